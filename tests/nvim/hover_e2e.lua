-- Headless Neovim (0.7+) as a real LSP client for the Carryover server: a hover over a seeded pool.
-- Run by tests/test_server_nvim.py:
--   nvim --headless --clean -n -c 'luafile tests/nvim/hover_e2e.lua'
-- with PY (python), POOL (--db), REPO (the checkout, cwd of the server) and FILE (a Python file whose
-- line 2 indexes a value that may be absent) in the environment.
local out = io.stdout
local function say(s) out:write(s .. "\n") end
local py = os.getenv("PY") or "python3"
local pool = assert(os.getenv("POOL"), "POOL not set")
local repo = assert(os.getenv("REPO"), "REPO not set")
local file = assert(os.getenv("FILE"), "FILE not set")
local expected = os.getenv("EXPECT") or "Guard optional values before indexing into them"
local ok_all = true

local id = vim.lsp.start_client({
  name = "carryover",
  cmd = { py, "-m", "server", "--db", pool },
  cmd_cwd = repo,
  root_dir = vim.fn.fnamemodify(file, ":h"),
  on_exit = function(code) say("server exited code=" .. tostring(code)) end,
})
vim.cmd("edit " .. file)
local buf = vim.api.nvim_get_current_buf()
vim.lsp.buf_attach_client(buf, id)
local inited = vim.wait(20000, function()
  local c = vim.lsp.get_client_by_id(id); return c ~= nil and c.initialized == true
end, 50)
say("initialized=" .. tostring(inited))
if not inited then ok_all = false end

-- 1) the raw hover reply; the pool opens in the background, so ask until it answers (or 90 s)
local params = { textDocument = { uri = vim.uri_from_bufnr(buf) }, position = { line = 1, character = 6 } }
local hover_text = "<none>"
vim.wait(90000, function()
  local res = vim.lsp.buf_request_sync(buf, "textDocument/hover", params, 5000)
  local r = res and res[id] and res[id].result
  if r and r.contents and r.contents.value then hover_text = r.contents.value; return true end
  return false
end, 500)
say("HOVER_RAW: " .. hover_text:gsub("\n", " | "))
if not hover_text:find(expected, 1, true) then ok_all = false end

-- 2) what the user sees: the floating window of vim.lsp.buf.hover()
vim.api.nvim_win_set_cursor(0, { 2, 6 })
vim.lsp.buf.hover()
local float_lines
vim.wait(10000, function()
  for _, w in ipairs(vim.api.nvim_list_wins()) do
    if vim.api.nvim_win_get_config(w).relative ~= "" then
      float_lines = vim.api.nvim_buf_get_lines(vim.api.nvim_win_get_buf(w), 0, -1, false)
      return true
    end
  end
  return false
end, 50)
local float_text = float_lines and table.concat(float_lines, " | ") or "<no float>"
say("HOVER_FLOAT: " .. float_text)
if not float_text:find(expected, 1, true) then ok_all = false end

-- 3) an unrelated line gets no hover
local quiet = vim.lsp.buf_request_sync(buf, "textDocument/hover",
  { textDocument = params.textDocument, position = { line = 3, character = 1 } }, 10000)
local quiet_result = quiet and quiet[id] and quiet[id].result
say("HOVER_UNRELATED: " .. (quiet_result and "result" or "none"))
if quiet_result ~= nil then ok_all = false end

say(ok_all and "RESULT: PASS" or "RESULT: FAIL")
vim.lsp.stop_client(id)
vim.wait(5000, function() return vim.lsp.get_client_by_id(id) == nil end, 50)
vim.cmd(ok_all and "qa!" or "cq!")
