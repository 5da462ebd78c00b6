// Fails when the extension's own modules import each other in a circle (type-only imports count too:
// a circle of types is a circle of design). Parses every module of src/ and test-unit/ with the
// TypeScript compiler (import and export-from declarations, `import x = require()`, `import()` and
// `require()` calls; text inside strings is not an import), resolves the relative ones to files, and
// prints each strongly connected component of more than one module (or a module importing itself).
// Exit 1: a circle; exit 2: an import that resolves to no file.
//   node scripts/check-cycles.mjs [folder ...]      default: src test-unit
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import * as path from "node:path";
import ts from "typescript";

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");
const folders = process.argv.length > 2 ? process.argv.slice(2) : ["src", "test-unit"];

function walk(folder) {
  const found = [];
  for (const name of readdirSync(folder)) {
    const full = path.join(folder, name);
    if (statSync(full).isDirectory()) found.push(...walk(full));
    else if (/\.(ts|mts|cts)$/.test(name) && !name.endsWith(".d.ts")) found.push(full);
  }
  return found;
}

function resolve(from, specifier) {
  if (!specifier.startsWith(".")) return undefined; // a package, not ours
  const base = path.resolve(path.dirname(from), specifier);
  for (const candidate of [base, `${base}.ts`, `${base}.mts`, `${base}.cts`, path.join(base, "index.ts")]) {
    if (existsSync(candidate) && statSync(candidate).isFile()) return candidate;
  }
  if (base.endsWith(".js")) return resolve(from, specifier.replace(/\.js$/, ""));
  console.error(`check-cycles: ${path.relative(root, from)}: cannot resolve import "${specifier}"`);
  process.exit(2);
}

function specifiers(file) {
  const source = ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
  const found = [];
  const literal = (node) => (node && ts.isStringLiteralLike(node) ? node.text : undefined);
  const visit = (node) => {
    let name;
    if (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) {
      name = literal(node.moduleSpecifier);
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      name = literal(node.moduleReference.expression);
    } else if (ts.isCallExpression(node) && (node.expression.kind === ts.SyntaxKind.ImportKeyword || (ts.isIdentifier(node.expression) && node.expression.text === "require"))) {
      name = literal(node.arguments[0]);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) {
      name = literal(node.argument.literal);
    }
    if (name !== undefined) found.push(name);
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

const files = folders.flatMap((folder) => walk(path.resolve(root, folder)));
const graph = new Map();
for (const file of files) {
  const targets = new Set();
  for (const specifier of specifiers(file)) {
    const target = resolve(file, specifier);
    if (target) targets.add(target);
  }
  graph.set(file, [...targets]);
}

// Tarjan's strongly connected components
let index = 0;
const indices = new Map();
const low = new Map();
const stack = [];
const onStack = new Set();
const components = [];
function connect(node) {
  indices.set(node, index);
  low.set(node, index);
  index++;
  stack.push(node);
  onStack.add(node);
  for (const next of graph.get(node) ?? []) {
    if (!indices.has(next)) {
      connect(next);
      low.set(node, Math.min(low.get(node), low.get(next)));
    } else if (onStack.has(next)) {
      low.set(node, Math.min(low.get(node), indices.get(next)));
    }
  }
  if (low.get(node) === indices.get(node)) {
    const component = [];
    let member;
    do {
      member = stack.pop();
      onStack.delete(member);
      component.push(member);
    } while (member !== node);
    const selfLoop = component.length === 1 && (graph.get(node) ?? []).includes(node);
    if (component.length > 1 || selfLoop) components.push(component);
  }
}
for (const node of graph.keys()) {
  if (!indices.has(node)) connect(node);
}

const edges = [...graph.values()].reduce((sum, targets) => sum + targets.length, 0);
if (components.length === 0) {
  console.log(`check-cycles: ${graph.size} modules, ${edges} imports, no import circle`);
} else {
  for (const component of components) {
    const members = new Set(component);
    const lines = component
      .sort()
      .flatMap((file) => (graph.get(file) ?? []).filter((target) => members.has(target)).map((target) => `  ${path.relative(root, file)} -> ${path.relative(root, target)}`));
    console.error(`import circle among ${component.length} modules:\n${lines.join("\n")}`);
  }
  console.error(`check-cycles: ${components.length} import circle(s)`);
  process.exit(1);
}
