// Report helpers (a sample for Carryover: hover the marked lines).
const { execSync } = require("child_process");

const accounts = new Map([["u1", { owner: "Ada" }]]);

function ownerOf(id) {
  // hover this line: memories learned in Python and Rust apply here too
  return accounts.get(id).owner;
}

function gitLog(branch) {
  // hover this line: a shell command built from a string
  return execSync("git log --oneline " + branch).toString();
}

module.exports = { ownerOf, gitLog };
