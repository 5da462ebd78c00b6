"""Synthetic but realistic memory texts and editor-context queries for benchmarks/pool.py.

Everything is built from templates filled with vocabularies of real developer situations: error
messages of pytest, mypy, cargo, go, npm, tsc, jest, maven, gradle, dotnet, cmake, rspec, composer,
swift, mix, sbt and docker; commands; components; causes; and fixes ("pin", "guard", "retry",
"validate", "escape", ...). Slots (``{fn}``, ``{Type}``, ``{field}``, ...) get fresh random values on
every use, so two drafts rarely share more than a template, which keeps the pool's write-time
deduplication (cosine ≥ 0.95 within a kind and outcome) from collapsing them. Deterministic for a
given seed.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass

from carryover.pool.records import Kind, MemoryDraft, Outcome, Provenance, Scope


@dataclass(frozen=True)
class Ecosystem:
    language: str
    style: str  # "snake" | "camel" | "pascal": how function names are written
    ext: str
    manifest: str
    tools: tuple[str, ...]
    packages: tuple[str, ...]
    commands: tuple[str, ...]
    errors: tuple[str, ...]
    code: tuple[str, ...]


ECOSYSTEMS: tuple[Ecosystem, ...] = (
    Ecosystem(
        "python",
        "snake",
        "py",
        "pyproject.toml",
        ("pytest", "mypy", "pip", "poetry", "ruff", "uv"),
        (
            "requests",
            "pydantic",
            "sqlalchemy",
            "numpy",
            "pandas",
            "fastapi",
            "django",
            "celery",
            "httpx",
            "attrs",
            "boto3",
            "redis",
            "jinja2",
            "click",
            "pyyaml",
            "alembic",
        ),
        (
            "pytest tests/test_{mod}.py -x",
            "mypy src/{mod}",
            "pip install -e .[dev]",
            "python -m {mod}",
            "ruff check src/{mod}.py",
            "poetry lock --no-update",
            "pytest -k {fn} -vv",
        ),
        (
            "FAILED tests/test_{mod}.py::test_{fn} - AssertionError: assert {num} == {num2}",
            "ModuleNotFoundError: No module named '{pkg}.{mod}'",
            "E   KeyError: '{field}'",
            "TypeError: {fn}() missing 1 required positional argument: '{var}'",
            "AttributeError: 'NoneType' object has no attribute '{field}'",
            'error: Incompatible types in assignment (expression has type "{Type} | None", variable has '
            'type "{Type}")  [assignment]',
            'error: Item "None" of "Optional[{Type}]" has no attribute "{field}"  [union-attr]',
            "fixture '{var}_factory' not found",
            "RuntimeError: Event loop is closed (in {fn})",
            "sqlalchemy.exc.IntegrityError: UNIQUE constraint failed: {noun}s.{field}",
            "ImportError: cannot import name '{Type}' from partially initialized module '{mod}' (most likely "
            "due to a circular import)",
            "UnicodeDecodeError: 'utf-8' codec can't decode byte 0x{hex} in position {num}",
            "RecursionError: maximum recursion depth exceeded in {fn}",
            "ValueError: time data '{date}' does not match format '%Y-%m-%d'",
        ),
        (
            "    total = sum({var}.{field} for {var} in {var}s)",
            "    return await self.client.{fn}({var}_id)",
            "    with open({var}_path, encoding='utf-8') as handle:",
            "    {var} = {Type}.model_validate(payload)",
            "def {fn}(self, {var}: {Type} | None = None) -> list[{Type}]:",
        ),
    ),
    Ecosystem(
        "rust",
        "snake",
        "rs",
        "Cargo.toml",
        ("cargo", "clippy", "rustc", "rustfmt"),
        (
            "serde",
            "tokio",
            "reqwest",
            "clap",
            "anyhow",
            "thiserror",
            "sqlx",
            "axum",
            "rayon",
            "chrono",
            "regex",
            "tracing",
            "hyper",
            "diesel",
        ),
        (
            "cargo test -p {mod}",
            "cargo build --release",
            "cargo clippy -- -D warnings",
            "cargo run --bin {mod}",
            "cargo update -p {pkg}",
            "cargo test {fn} -- --nocapture",
        ),
        (
            "error[E0502]: cannot borrow `{var}` as mutable because it is also borrowed as immutable",
            "error[E0308]: mismatched types: expected `{Type}`, found `Option<{Type}>`",
            "error[E0382]: borrow of moved value: `{var}`",
            "error[E0277]: the trait bound `{Type}: Serialize` is not satisfied",
            "error[E0599]: no method named `{fn}` found for struct `{Type}` in the current scope",
            "thread 'main' panicked at src/{mod}.rs:{line}:{col}: "
            "called `Option::unwrap()` on a `None` value",
            "error: lifetime may not live long enough in `{fn}`",
            "error[E0106]: missing lifetime specifier in `{Type}`",
            "thread 'tokio-runtime-worker' panicked: Cannot start a runtime from within a runtime ({fn})",
            "error: failed to select a version for `{pkg}` required by `{mod}`",
            "warning: unused `Result` that must be used in `{fn}`",
        ),
        (
            "    let {var} = {var}s.iter().find(|x| x.{field} == id).unwrap();",
            "    let {var}: {Type} = serde_json::from_str(&body)?;",
            "fn {fn}(&mut self, {var}: &{Type}) -> Result<()> {",
            "    for {var} in self.{var}s.iter_mut() {",
            "    tokio::spawn(async move { {fn}({var}).await });",
        ),
    ),
    Ecosystem(
        "go",
        "camel",
        "go",
        "go.mod",
        ("go", "golangci-lint", "gofmt", "delve"),
        ("gin", "gorm", "cobra", "viper", "zap", "testify", "grpc", "chi", "pgx", "sqlc", "logrus", "echo"),
        (
            "go test ./{mod}/... -run Test{Fn}",
            "go build ./...",
            "go vet ./{mod}",
            "golangci-lint run ./{mod}/...",
            "go mod tidy",
            "go test -race ./{mod}",
        ),
        (
            "panic: runtime error: invalid memory address or nil pointer dereference in {Fn}",
            "./{mod}.go:{line}:{col}: undefined: {Fn}",
            "fatal error: all goroutines are asleep - deadlock! ({fn})",
            "--- FAIL: Test{Fn} ({small}.{num}s) {mod}_test.go:{line}: got {num}, want {num2}",
            "go: {pkg}@v{ver}: missing go.sum entry; to add it: go mod download {pkg}",
            "WARNING: DATA RACE Write at 0x{hex} by goroutine {num} in {fn}",
            "panic: assignment to entry in nil map in {Fn}",
            "cannot use {var} (variable of type *{Type}) as {Type} value in argument to {fn}",
            "context deadline exceeded while calling {Fn}",
            "import cycle not allowed: {mod} imports {mod2}",
        ),
        (
            "if err := {fn}(ctx, {var}); err != nil {",
            "    {var}, err := s.repo.{Fn}(ctx, id)",
            "func (s *{Type}) {Fn}(ctx context.Context, {var} *{Type}) error {",
            "    defer rows.Close()",
            "    go func() { {var}Ch <- {fn}({var}) }()",
        ),
    ),
    Ecosystem(
        "typescript",
        "camel",
        "ts",
        "package.json",
        ("tsc", "npm", "jest", "eslint", "vite", "pnpm"),
        (
            "react",
            "express",
            "zod",
            "axios",
            "prisma",
            "next",
            "lodash",
            "rxjs",
            "typeorm",
            "date-fns",
            "vitest",
            "graphql",
        ),
        (
            "npx tsc --noEmit -p {mod}",
            "npm test -- {mod}.test.ts",
            "npm run build",
            "pnpm install --frozen-lockfile",
            "npx eslint src/{mod}.ts",
            "npx vitest run {mod}",
        ),
        (
            "error TS2345: Argument of type '{Type}' is not assignable to parameter of type '{Type2}'.",
            "error TS2339: Property '{field}' does not exist on type '{Type}'.",
            "error TS2532: Object is possibly 'undefined'. src/{mod}.ts:{line}:{col}",
            "error TS7006: Parameter '{var}' implicitly has an 'any' type.",
            "error TS2307: Cannot find module '{pkg}/{mod}' or its corresponding type declarations.",
            "TypeError: Cannot read properties of undefined (reading '{field}')",
            "expect(received).toEqual(expected) in {fn}.test.ts",
            "npm ERR! code ERESOLVE unable to resolve dependency tree for {pkg}@{ver}",
            "error TS2322: Type 'string | null' is not assignable to type 'string'. ({fn})",
            "Unhandled promise rejection in {fn}: Error: Request failed with status code {status}",
        ),
        (
            "const {var} = await {fn}({var}Id);",
            "export function {fn}({var}: {Type}): {Type2} {",
            "  const {var}s = data?.{field} ?? [];",
            "  useEffect(() => { {fn}(); }, [{var}]);",
            "  return {var}s.filter((x) => x.{field} !== null);",
        ),
    ),
    Ecosystem(
        "javascript",
        "camel",
        "js",
        "package.json",
        ("node", "npm", "jest", "eslint", "webpack", "yarn"),
        (
            "express",
            "react",
            "lodash",
            "axios",
            "moment",
            "mongoose",
            "webpack",
            "babel",
            "socket.io",
            "knex",
        ),
        (
            "npm test -- {mod}",
            "node scripts/{mod}.js",
            "yarn build",
            "npx jest {mod}.test.js --runInBand",
            "npm ci",
            "npx eslint src/{mod}.js",
        ),
        (
            "TypeError: {var}.map is not a function",
            "ReferenceError: {var} is not defined",
            "Error: Cannot find module '{pkg}'",
            "npm ERR! code ELIFECYCLE npm ERR! errno 1 {mod}@{ver} build",
            "SyntaxError: Unexpected token '<' in JSON at position 0 ({fn})",
            "Error: connect ECONNREFUSED 127.0.0.1:{port}",
            "Jest did not exit one second after the test run has completed ({mod}.test.js)",
            "Module not found: Error: Can't resolve './{mod}' in '/app/src'",
            "RangeError: Maximum call stack size exceeded in {fn}",
            "Error: listen EADDRINUSE: address already in use :::{port}",
        ),
        (
            "const {var} = require('{pkg}');",
            "module.exports = async function {fn}(req, res) {",
            "  {var}s.forEach(({var}) => {fn}({var}));",
            "  const { {field} } = req.body;",
            "  return fetch(`/api/{noun}s/${id}`).then((r) => r.json());",
        ),
    ),
    Ecosystem(
        "java",
        "camel",
        "java",
        "pom.xml",
        ("maven", "gradle", "junit", "javac", "spotbugs"),
        (
            "spring-boot",
            "hibernate",
            "jackson",
            "guava",
            "lombok",
            "mockito",
            "slf4j",
            "junit-jupiter",
            "kafka-clients",
            "okhttp",
        ),
        (
            "mvn -pl {mod} test -Dtest={Type}Test",
            "mvn clean install -DskipTests",
            "./gradlew :{mod}:test",
            "mvn dependency:tree -Dincludes={pkg}",
            "mvn verify -P integration",
        ),
        (
            'java.lang.NullPointerException: Cannot invoke "{Type}.{fn}()" because "{var}" is null',
            "[ERROR] Failed to execute goal org.apache.maven.plugins:maven-surefire-plugin:{ver}:test on "
            "project {mod}",
            "[ERROR] Could not resolve dependencies for project com.acme:{mod}:jar:{ver}",
            "java.util.ConcurrentModificationException at {Type}.{fn}({Type}.java:{line})",
            "org.hibernate.LazyInitializationException: failed to lazily initialize a collection of role: "
            "{Type}.{field}",
            "java.lang.OutOfMemoryError: Java heap space in {Type}.{fn}",
            'com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException: Unrecognized field "{field}"',
            "org.springframework.beans.factory.UnsatisfiedDependencyException: Error creating bean with name "
            "'{var}Service'",
            "error: incompatible types: Optional<{Type}> cannot be converted to {Type}",
            "java.lang.ClassCastException: class {Type} cannot be cast to class {Type2}",
        ),
        (
            "{Type} {var} = repository.findById(id).get();",
            "    public List<{Type}> {fn}(String {var}Id) {",
            "    @Transactional(readOnly = true)",
            "    {var}s.stream().map({Type}::{fn}).collect(toList());",
            "    when({var}Client.{fn}(any())).thenReturn(Optional.empty());",
        ),
    ),
    Ecosystem(
        "kotlin",
        "camel",
        "kt",
        "build.gradle.kts",
        ("gradle", "kotlinc", "detekt", "junit"),
        (
            "ktor",
            "kotlinx-coroutines",
            "exposed",
            "koin",
            "kotlinx-serialization",
            "retrofit",
            "room",
            "mockk",
        ),
        (
            "./gradlew :{mod}:test --tests '*{Type}Test'",
            "./gradlew build",
            "./gradlew detekt",
            "./gradlew :{mod}:assembleDebug",
        ),
        (
            "e: {Type}.kt: ({line}, {col}): Type mismatch: inferred type is {Type}? but {Type} was expected",
            "kotlin.UninitializedPropertyAccessException: lateinit property {var} has not been initialized",
            "kotlinx.serialization.MissingFieldException: Field '{field}' is required for type with serial "
            "name '{Type}'",
            "kotlinx.coroutines.JobCancellationException: Job was cancelled in {fn}",
            "e: Unresolved reference: {fn}",
            "java.lang.IllegalStateException: Expected BEGIN_OBJECT but was STRING at path $.{field}",
            "Execution failed for task ':{mod}:compileKotlin'",
            "Smart cast to '{Type}' is impossible, because '{var}' is a mutable property",
        ),
        (
            "val {var} = {var}Repository.{fn}(id) ?: return null",
            "suspend fun {fn}({var}: {Type}): {Type2} {",
            "    viewModelScope.launch { {fn}() }",
            "    private lateinit var {var}: {Type}",
        ),
    ),
    Ecosystem(
        "csharp",
        "pascal",
        "cs",
        "{Type}.csproj",
        ("dotnet", "msbuild", "xunit", "nuget"),
        (
            "EntityFrameworkCore",
            "Newtonsoft.Json",
            "Serilog",
            "AutoMapper",
            "MediatR",
            "Polly",
            "Dapper",
            "Moq",
            "FluentValidation",
        ),
        (
            "dotnet test --filter {Type}Tests",
            "dotnet build -c Release",
            "dotnet ef database update",
            "dotnet restore",
            "dotnet run --project src/{Type}",
        ),
        (
            "error CS0246: The type or namespace name '{Type}' could not be found",
            "System.NullReferenceException: Object reference not set to an instance of an object. at "
            "{Type}.{Fn}()",
            "warning CS8602: Dereference of a possibly null reference in {Fn}",
            "System.InvalidOperationException: Sequence contains no elements at {Type}.{Fn}",
            "error CS1061: '{Type}' does not contain a definition for '{Fn}'",
            "System.ObjectDisposedException: Cannot access a disposed context instance ({Type}Context)",
            "error NU1605: Detected package downgrade: {pkg} from {ver} to {ver2}",
            "System.Text.Json.JsonException: The JSON value could not be converted to {Type}. "
            "Path: $.{field}",
            "System.Threading.Tasks.TaskCanceledException: A task was canceled in {Fn}Async",
        ),
        (
            "var {var} = await _context.{Type}s.FirstAsync(x => x.Id == id);",
            "public async Task<{Type}> {Fn}Async({Type2} {var})",
            "    services.AddScoped<I{Type}, {Type}>();",
        ),
    ),
    Ecosystem(
        "cpp",
        "snake",
        "cpp",
        "CMakeLists.txt",
        ("cmake", "clang", "gcc", "gtest", "ninja", "valgrind"),
        (
            "boost",
            "fmt",
            "spdlog",
            "abseil",
            "protobuf",
            "eigen",
            "grpc",
            "openssl",
            "catch2",
            "nlohmann-json",
        ),
        (
            "cmake --build build --target {mod}",
            "ctest -R {Type}Test --output-on-failure",
            "ninja -C build {mod}",
            "valgrind --leak-check=full ./build/{mod}",
        ),
        (
            "undefined reference to `{mod}::{Type}::{fn}()'",
            "error: no matching function for call to '{fn}(const {Type}&)'",
            "CMake Error at CMakeLists.txt:{line} (find_package): "
            "Could not find a package configuration file "
            'provided by "{pkg}"',
            "ERROR: AddressSanitizer: heap-use-after-free on address 0x{hex} in {fn}",
            "Segmentation fault (core dumped) in {Type}::{fn}",
            "error: use of deleted function '{Type}::{Type}(const {Type}&)'",
            "terminate called after throwing an instance of 'std::out_of_range' in {fn}",
            "multiple definition of `{fn}'; first defined here",
            "warning: comparison of integer expressions of different signedness in {fn}",
        ),
        (
            "auto {var} = std::make_unique<{Type}>({var}_config);",
            "for (auto& {var} : {var}s_) {",
            "std::lock_guard<std::mutex> lock({var}_mutex_);",
            "{Type}::{fn}(const std::string& {var}) {",
        ),
    ),
    Ecosystem(
        "ruby",
        "snake",
        "rb",
        "Gemfile",
        ("bundler", "rspec", "rails", "rubocop", "rake"),
        ("rails", "sidekiq", "devise", "rspec-rails", "pg", "puma", "nokogiri", "faraday", "activerecord"),
        (
            "bundle exec rspec spec/{mod}_spec.rb",
            "bundle install",
            "bin/rails db:migrate",
            "bundle exec rubocop app/{mod}.rb",
            "bundle exec rake {mod}:{fn}",
        ),
        (
            "NoMethodError: undefined method `{fn}' for nil:NilClass",
            "Failure/Error: expect({var}.{fn}).to eq({num})",
            "Bundler::GemNotFound: Could not find {pkg}-{ver} in any of the sources",
            "ActiveRecord::RecordNotUnique: PG::UniqueViolation: duplicate key value violates unique "
            'constraint "index_{noun}s_on_{field}"',
            "ActiveRecord::PendingMigrationError: Migrations are pending in {mod}",
            "NameError: uninitialized constant {Type}",
            "ArgumentError: wrong number of arguments (given {small}, expected {small2}) in {fn}",
            "ActionController::ParameterMissing: param is missing or the value is empty: {noun}",
        ),
        (
            "  {var} = {Type}.find_by!({field}: params[:{field}])",
            "  def {fn}({var}, **opts)",
            "  has_many :{noun}s, dependent: :destroy",
            "  {var}s.each_slice(500) { |batch| {fn}(batch) }",
        ),
    ),
    Ecosystem(
        "php",
        "camel",
        "php",
        "composer.json",
        ("composer", "phpunit", "phpstan", "artisan"),
        (
            "laravel/framework",
            "symfony/console",
            "guzzlehttp/guzzle",
            "doctrine/orm",
            "monolog/monolog",
            "predis/predis",
            "league/flysystem",
        ),
        (
            "vendor/bin/phpunit --filter {Type}Test",
            "composer install",
            "php artisan migrate",
            "vendor/bin/phpstan analyse src/{Type}.php",
        ),
        (
            "PHP Fatal error: Uncaught Error: Call to a member function {fn}() on null",
            "Your requirements could not be resolved to an installable set of packages: {pkg} {ver}",
            'Undefined array key "{field}" in src/{Type}.php on line {line}',
            "SQLSTATE[23000]: Integrity constraint violation: 1062 Duplicate entry for key '{noun}s.{field}'",
            "TypeError: {Type}::{fn}(): Argument #1 must be of type {Type2}, null given",
            "Allowed memory size of 134217728 bytes exhausted in {Type}.php",
            'Class "App\\{Type}" not found',
            "Method {Type}::{fn}() should return {Type2} but returns {Type2}|null.",
        ),
        (
            "    ${var} = $this->{var}Repository->{fn}($id);",
            "    public function {fn}({Type} ${var}): array",
            "    return response()->json(${var}->{field});",
        ),
    ),
    Ecosystem(
        "swift",
        "camel",
        "swift",
        "Package.swift",
        ("xcodebuild", "swiftpm", "swiftlint", "xctest"),
        ("Alamofire", "Combine", "Kingfisher", "SnapKit", "GRDB", "Realm", "swift-nio"),
        (
            "swift test --filter {Type}Tests",
            "xcodebuild -scheme {Type} test",
            "swift build -c release",
            "swiftlint lint Sources/{Type}.swift",
        ),
        (
            "error: value of optional type '{Type}?' must be unwrapped to refer to member '{field}'",
            "Thread 1: Fatal error: Index out of range in {fn}",
            "Fatal error: Unexpectedly found nil while unwrapping an Optional value ({var})",
            "error: type '{Type}' does not conform to protocol 'Decodable'",
            "Publishing changes from background threads is not allowed in {Type}",
            "error: escaping closure captures mutating 'self' parameter in {fn}",
            "Reference to property '{field}' in closure requires explicit use of 'self'",
            "error: cannot find '{fn}' in scope",
        ),
        (
            "guard let {var} = {var}s.first(where: { $0.id == id }) else { return }",
            "func {fn}(_ {var}: {Type}) async throws -> {Type2} {",
            "    @Published var {var}s: [{Type}] = []",
        ),
    ),
    Ecosystem(
        "elixir",
        "snake",
        "ex",
        "mix.exs",
        ("mix", "exunit", "credo", "dialyzer"),
        ("phoenix", "ecto", "oban", "jason", "tesla", "absinthe", "broadway", "ex_machina"),
        (
            "mix test test/{mod}_test.exs",
            "mix compile --warnings-as-errors",
            "mix ecto.migrate",
            "mix deps.get",
        ),
        (
            "** (FunctionClauseError) no function clause matching in {Type}.{fn}/{small}",
            "** (KeyError) key :{field} not found in: %{}",
            "** (Ecto.NoResultsError) expected at least one result but got none in query: "
            "from {noun} in {Type}",
            "** (DBConnection.ConnectionError) connection not available and request was dropped from queue "
            "after {num}ms",
            'warning: variable "{var}" is unused ({mod}.ex:{line})',
            "** (UndefinedFunctionError) function {Type}.{fn}/{small} is undefined or private",
            "** (Protocol.UndefinedError) protocol Jason.Encoder not implemented for %{Type}{}",
        ),
        (
            "  def {fn}(%{Type}{} = {var}, attrs) do",
            "    |> Repo.preload(:{noun}s)",
            "    with {:ok, {var}} <- {fn}({var}_id) do",
        ),
    ),
    Ecosystem(
        "scala",
        "camel",
        "scala",
        "build.sbt",
        ("sbt", "scalatest", "scalafmt"),
        ("akka", "cats-effect", "zio", "http4s", "circe", "spark-sql", "slick", "doobie"),
        ("sbt '{mod}/testOnly *{Type}Spec'", "sbt compile", "sbt assembly"),
        (
            "[error] type mismatch; found: Option[{Type}] required: {Type}",
            "[error] could not find implicit value for parameter encoder: Encoder[{Type}]",
            "scala.MatchError: {Type}({num}) (of class {Type})",
            "java.lang.NoSuchMethodError: {Type}.{fn}",
            "[error] value {fn} is not a member of {Type}",
            "akka.pattern.AskTimeoutException: Ask timed out on [Actor[{var}]] after [{num} ms]",
        ),
        ("  def {fn}({var}: {Type}): IO[{Type2}] =", "    {var}s.groupBy(_.{field}).view.mapValues(_.size)"),
    ),
)

DOCKER_ERRORS = (
    "ERROR [builder {small}/{small2}] RUN {cmd}",
    'failed to solve: process "/bin/sh -c {cmd}" did not complete successfully: exit code: {exit}',
    "COPY failed: file not found in build context: {file}",
    "exec /usr/local/bin/{mod}: exec format error",
    "Error response from daemon: driver failed programming external connectivity: "
    "port {port} already allocated",
    'OCI runtime create failed: exec: "{mod}": executable file not found in $PATH',
    "container {mod}-{noun} exited with code 137 (OOMKilled)",
)

NOUNS = (
    "user", "order", "invoice", "payment", "session", "account", "tenant", "product", "cart", "report",
    "event", "message", "job", "ticket", "document", "shipment", "subscription", "coupon", "webhook",
    "profile", "role", "permission", "project", "build", "artifact", "schema", "record", "batch", "chunk",
    "customer", "address", "price", "refund", "device", "upload", "comment", "review", "notification",
    "metric", "alert", "feature", "quota", "ledger", "transfer", "booking", "route", "asset", "template",
    "workspace", "invite", "playlist", "warehouse", "claim", "lead", "survey",
)  # fmt: skip
VERBS = (
    "parse", "load", "fetch", "validate", "serialize", "normalize", "resolve", "render", "sync", "merge",
    "build", "compute", "apply", "dispatch", "handle", "encode", "decode", "refresh", "upsert", "export",
    "schedule", "lookup", "find", "create", "update", "delete", "list", "send", "process", "transform",
    "index", "archive", "publish", "reconcile", "calculate", "convert", "split", "filter", "enqueue",
    "verify",
)  # fmt: skip
QUALIFIERS = ("", "", "", "by_id", "for_tenant", "batch", "all", "from_cache", "to_json", "pending", "async")
TYPE_SUFFIXES = (
    "", "Service", "Repository", "Client", "Handler", "Config", "Dto", "Builder", "Factory", "Manager",
    "Event", "Request", "Response", "Store", "Cache", "Worker", "Validator", "Serializer", "Controller",
    "Mapper",
)  # fmt: skip
MODULES = (
    "billing", "auth", "checkout", "inventory", "search", "notifications", "reports", "ingest", "sync", "api",
    "cli", "gateway", "scheduler", "exporter", "importer", "analytics", "payments", "accounts", "catalog",
    "shipping", "pricing", "webhooks", "audit", "metrics", "storage", "uploads", "sessions", "admin",
    "onboarding", "feeds", "ledger", "invoicing", "mailer", "tenants", "permissions", "migrations", "config",
    "cache", "queue", "workers", "geo", "fraud", "media", "chat", "recommendations",
)  # fmt: skip
FIELD_ATTRS = (
    "id", "created_at", "updated_at", "email", "amount_cents", "currency", "status", "expires_at",
    "parent_id", "display_name", "retry_count", "locale", "timezone", "sku", "quantity", "due_date",
    "callback_url", "checksum", "version", "priority", "slug", "owner_id", "deleted_at", "country_code",
)  # fmt: skip
DOMAINS = (
    "billing", "checkout", "auth", "inventory", "search", "notification", "reporting", "ingestion",
    "payment", "shipping", "pricing", "catalog", "analytics", "onboarding", "audit-log", "session",
    "upload", "activity feed", "ledger", "invoice", "email", "tenant", "permission", "subscription",
    "recommendation", "geocoding", "fraud check", "CSV export", "data import", "scheduling", "chat",
    "media transcoding", "approval workflow", "feature-flag", "rate-limiting", "SSO", "webhook delivery",
)  # fmt: skip
COMPONENT_NOUNS = (
    "service", "worker", "nightly job", "API", "client library", "webhook handler", "middleware", "cache",
    "queue consumer", "CLI", "migration", "cron task", "GraphQL resolver", "REST controller", "gRPC server",
    "SDK", "parser", "scheduler", "data pipeline", "admin page", "React component", "repository layer",
    "batch exporter", "integration tests", "Lambda function", "mobile screen", "search index",
)  # fmt: skip
ENV_VARS = (
    "DATABASE_URL",
    "REDIS_URL",
    "TZ",
    "LANG",
    "NODE_ENV",
    "RUST_LOG",
    "JAVA_HOME",
    "GOFLAGS",
    "PYTHONPATH",
    "HOME",
    "CI",
    "AWS_REGION",
    "LOG_LEVEL",
    "PORT",
)
CAUSES = (
    "a fixture shared mutable state between tests",
    "the {pkg} release changed a default the code relied on",
    "the iterator over {noun}s was consumed twice",
    "naive and timezone-aware datetimes were compared in {fn}",
    "the {noun} map was mutated while it was being iterated",
    "{env} was unset on CI but set on the developer machine",
    "the lockfile was stale after a manual edit of {manifest}",
    "the base image switched from glibc to musl",
    "the test relied on hash map iteration order",
    "the {noun} API returned 429 under load and the client did not back off",
    "the path to the {noun} export contained spaces and was not quoted",
    "the mock patched {fn} where it was defined instead of where {mod} looks it up",
    "two workers wrote the same {noun} row concurrently",
    "the {field} column was nullable but {fn} assumed it was always set",
    "the connection pool was exhausted by requests that never released their connection",
    "the cache key ignored the tenant, so one tenant saw another tenant's {noun}s",
    "floating-point rounding turned {num} cents into {num2}",
    "a retry replayed a non-idempotent {verb} request",
    "the migration ran before the backfill of {field} finished",
    "the HTTP client in {fn} had no timeout at all",
    "{Type} was constructed with positional arguments in the wrong order",
    "the CI runner had a different locale, so string sorting of {noun}s differed",
    "the config loader silently ignored the unknown key {field}",
    "the feature flag for {noun}s defaulted to on in the test environment",
    "the pagination cursor skipped {noun}s that shared the same {field}",
    "the JSON payload used camelCase while {Type} expected snake_case",
    "an off-by-one in the range bound dropped the last {noun}",
    "the error was swallowed by a catch-all in {fn} and logged at debug level",
    "clock drift in the container made signed {noun} URLs expire early",
    "the build cache reused an artifact compiled with different flags",
    "the regex in {fn} was greedy and matched across lines",
    "user input reached a shell command in {fn} without escaping",
    "HTML from the {noun} description was rendered without escaping",
    "the SQL in {fn} was built by string concatenation with {field}",
    "{pkg} dropped support for the runtime version pinned in {manifest}",
    "the generated {noun} client was out of date with the OpenAPI spec",
    "the test order hid a dependency on data left by a previous test",
    "{fn} was called without being awaited",
    "a background task leaked because its {noun} channel was never closed",
    "the {noun} list was sorted in place while another reference still used it",
    "the {field} counter overflowed after {num} increments",
    "an absolute path from one machine was hard-coded in {file}",
    "the file handle in {fn} was never closed, so Windows kept the file locked",
    "the cron schedule used UTC while the {noun} rule was in local time",
    "two versions of {pkg} ended up in the dependency tree",
    "the optional {field} was missing from older {noun} records",
    "schema validation accepted empty strings for {field}",
    "the {noun} event handler was registered twice after a hot reload",
    "a default mutable argument of {fn} accumulated {noun}s between calls",
    "the Docker layer cache kept an old copy of {manifest}",
    "the health check needed the database, so restarts cascaded across {mod}",
    "the queue consumer acknowledged {noun} messages before processing them",
    "the batch size exceeded the API limit of {num} {noun}s",
    "the {noun} export was Latin-1 but was read as UTF-8",
    "an N+1 query loaded each {noun}'s {noun2}s one at a time",
    "locks were taken in a different order in {fn} and {fn2}",
    "the test server port {port} collided with a local service",
    "the snapshot in {fn} captured a timestamp that changes every run",
    "{pkg} was installed globally on the laptop but missing from {manifest}",
    "{Type} equality compared references instead of values",
)
FIXES = (
    ("pin", "pinned {pkg} to {ver} in {manifest}"),
    ("pin", "pinned the base image of {mod} to a digest instead of a moving tag"),
    ("pin", "pinned the {tool} version used on CI to the one used locally"),
    ("guard", "added a guard for a missing {field} before {fn} runs"),
    ("guard", "guarded {fn} against an empty list of {noun}s"),
    ("guard", "returned early from {fn} when {var} is null"),
    ("retry", "wrapped {fn} in a retry with exponential backoff and jitter"),
    ("retry", "retried the {noun} call only on 429 and 503, at most {small} times"),
    ("validate", "validated {field} at the API boundary with a schema"),
    ("validate", "rejected {noun}s whose {field} is empty before saving them"),
    ("escape", "escaped {field} before passing it to the shell in {fn}"),
    ("escape", "used a parameterised query instead of formatting {field} into the SQL"),
    ("escape", "HTML-escaped the {noun} description in the template"),
    ("isolate", "gave each test its own temporary directory and database schema"),
    ("isolate", "reset the {Type} singleton between tests"),
    ("lock", "took a row lock on the {noun} before updating {field}"),
    ("lock", "made {fn} idempotent with a unique key on {field}"),
    ("timeout", "set an explicit {num} ms timeout on the {pkg} client"),
    ("timeout", "passed a deadline down into {fn}"),
    ("await", "awaited {fn} and enabled the lint rule against floating promises"),
    ("close", "closed the {noun} stream in a finally block"),
    ("close", "released the connection in {fn} with a context manager"),
    ("normalize", "normalized {field} to UTC before comparing"),
    ("normalize", "normalized line endings in {file}"),
    ("cache", "keyed the {noun} cache by tenant and {field}"),
    ("cache", "invalidated the {noun} cache after {fn}"),
    ("batch", "split the upload into batches of {num} {noun}s"),
    ("batch", "replaced the per-{noun} queries with one join"),
    ("mock", "patched {fn} where {mod} imports it"),
    ("mock", "replaced the real {pkg} client with an in-memory fake in tests"),
    ("regenerate", "regenerated the lockfile with {tool}"),
    ("regenerate", "regenerated the {noun} client from the OpenAPI spec"),
    ("bump", "upgraded {pkg} to {ver}, which contains the upstream fix"),
    ("revert", "reverted the {pkg} upgrade and opened an issue upstream"),
    ("sort", "sorted {noun}s by ({field}, id) so pagination is stable"),
    ("quote", "quoted the path in the {tool} script"),
    ("index", "added a database index on {noun}s.{field}"),
    ("log", "logged the swallowed exception in {fn} with the {noun} id and re-raised it"),
    ("debounce", "debounced the {noun} refresh to once every {num} ms"),
    ("stream", "streamed the {noun} export instead of loading it into memory"),
    ("seed", "seeded the random generator in the {fn} tests"),
    ("freeze", "froze the clock in the {mod} tests with a fake time source"),
    ("vendor", "vendored a patched {pkg} under third_party"),
    ("rename", "renamed the {field} key to match the API contract"),
    ("split", "split {fn} so its pure part can be unit-tested"),
    ("type", "typed {var} as optional and handled the missing case explicitly"),
    ("migrate", "split the migration into add column, backfill {field}, then add the constraint"),
)
FAIL_REASONS = (
    "the error only moved to {fn}",
    "it hid the symptom on one machine while CI still failed the same way",
    "it broke {small} other tests in {mod}",
    "the real cause was {cause}",
    "it made the {component} {small} times slower",
    "review rejected it because {cause}",
    "the failure came back after the next deploy of {mod}",
)
SYMPTOMS = (
    "a flaky test", "intermittent 500s", "a broken build", "a memory leak", "slow responses",
    "duplicate {noun}s", "wrong totals", "a deadlock", "timeouts", "a crash on startup", "stale {noun}s",
    "a type error", "a failing migration", "missing {noun}s in the export", "a data race",
    "broken pagination", "garbled {noun} names", "double charges", "an OOM kill",
    "permission denied in the container", "a hanging CI job", "a red nightly build",
)  # fmt: skip
SITUATIONS = (
    "upgrading {pkg}", "writing tests that depend on the clock", "parsing {noun} input from users",
    "adding a column to the {noun}s table", "calling the {noun} API of a third party",
    "running the {tool} suite in parallel", "building images for ARM and x86",
    "reading optional fields from old {noun} records", "sharing a cache across tenants",
    "shelling out from {fn}", "comparing {noun} timestamps", "paginating over {noun}s that change",
    "retrying network calls in {fn}", "processing {noun} queue messages", "storing money amounts",
    "reading files of unknown encoding", "registering {noun} event handlers",
    "mocking imports in {mod} tests",
    "running migrations on CI", "releasing a new {pkg} version", "exporting {noun}s to CSV",
    "rendering {noun} descriptions as HTML", "deploying the {component}",
)  # fmt: skip
GOALS = (
    "upgrade {pkg} safely", "reproduce a flaky {tool} test", "add a nullable {field} column without downtime",
    "profile a slow {fn}", "bisect a regression in {mod}", "release a new version of the {component}",
    "debug a failing Docker build of {mod}", "add a regression test for {fn}",
    "roll back a bad migration in {mod}", "set up the {tool} cache on CI",
    "investigate a memory leak in the {component}", "add structured logging to {fn}",
    "move {fn} behind a feature flag", "trace a slow {noun} request end to end",
    "split the {mod} module out of the monolith", "backfill {field} for existing {noun}s",
)  # fmt: skip
STEPS = (
    "run `{cmd}` to reproduce it", "read the first error, not the last one", "write a failing test for {fn}",
    "check the {manifest} diff since the last green build", "rerun `{cmd}` with verbose output",
    "compare against the last green CI run", "bisect between the last two releases of {pkg}",
    "add logging around {fn}", "check {field} on a staging {noun}", "{fix}",
    "run the whole {tool} suite", "deploy to staging and watch the {noun} metrics",
    "note the change in the {mod} changelog", "inspect the {noun} rows that {fn} touched",
)  # fmt: skip
INSIGHT_RULES = (
    "{Action} {object} before {situation}",
    "Don't {antiaction} when {situation}",
    "When you see {symptom}, check whether {cause}",
    "{Symptom} in the {component} usually means {cause}",
    "Prefer {action_ing} over {antiaction_ing} when {situation}",
)
ACTION_OBJECTS = (
    ("pin", "the versions you tested"), ("guard", "optional values"), ("retry", "idempotent calls only"),
    ("validate", "input at the boundary"), ("escape", "anything that reaches a shell or SQL"),
    ("isolate", "test state"), ("freeze", "the clock in tests"), ("normalize", "timestamps to UTC"),
    ("close", "resources in a finally block"), ("await", "every coroutine"), ("seed", "random generators"),
    ("lock", "rows you read-modify-write"), ("batch", "calls to rate-limited APIs"),
    ("stream", "large exports"), ("sort", "paginated queries by a unique key"),
    ("quote", "paths in scripts"), ("index", "columns you filter on"), ("log", "swallowed exceptions"),
)  # fmt: skip
ANTI_ACTIONS = (
    ("catch every exception", "catching every exception"), ("retry non-idempotent writes", "blind retries"),
    ("float-format money", "floats for money"), ("mutate shared fixtures", "shared fixtures"),
    ("sleep in tests", "sleeps in tests"), ("trust the local cache", "cached builds"),
    ("upgrade everything at once", "bulk upgrades"), ("format SQL strings by hand", "string-built SQL"),
    ("rely on dict order", "implicit ordering"), ("unwrap optionals", "force unwrapping"),
)  # fmt: skip
QUERY_CONTEXT = (
    "{file}:{line}:{col}: {error}",
    "{error}",
    "$ {cmd}\n{error}",
    "{code}",
    "{code}\n{error}",
    "$ {cmd}  (exit code {exit})",
    "{error}\n    at {Fn} ({file}:{line})",
    "// TODO: {fix}\n{code}",
)

_SLOT = re.compile(r"\{(\w+)\}")
Texts = tuple[str, str, str]  # title, description, content


def _case(words: list[str], style: str) -> str:
    words = [w for w in words if w]
    if style == "snake":
        return "_".join(words)
    parts: list[str] = []
    for word in words:
        parts.extend(word.split("_"))
    pascal = "".join(p[:1].upper() + p[1:] for p in parts)
    return pascal if style == "pascal" else pascal[:1].lower() + pascal[1:]


class TextFactory:
    """Fills templates; every slot gets a fresh random value, per call."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self._slots: dict[str, dict[str, Callable[[], str]]] = {}

    def pick(self, values: tuple[str, ...]) -> str:
        return self.rng.choice(values)

    def fill(self, template: str, eco: Ecosystem, depth: int = 0) -> str:
        return _SLOT.sub(lambda m: self.slot(m.group(1), eco, depth), template)

    def _fn(self, eco: Ecosystem, style: str | None = None) -> str:
        words = [self.pick(VERBS), self.pick(NOUNS), self.pick(QUALIFIERS)]
        return _case(words, style or eco.style)

    def _type(self) -> str:
        return _case([self.pick(NOUNS), self.pick(TYPE_SUFFIXES)], "pascal")

    def _field(self) -> str:
        attr = self.pick(FIELD_ATTRS)
        return f"{self.pick(NOUNS)}_{attr}" if self.rng.random() < 0.5 else attr

    def _simple_slots(self, eco: Ecosystem) -> dict[str, Callable[[], str]]:
        rng, pick = self.rng, self.pick
        return {
            "fn": lambda: self._fn(eco),
            "fn2": lambda: self._fn(eco),
            "Fn": lambda: self._fn(eco, "pascal"),
            "Type": self._type,
            "Type2": self._type,
            "var": lambda: _case([pick(NOUNS)], eco.style),
            "field": self._field,
            "noun": lambda: pick(NOUNS),
            "noun2": lambda: pick(NOUNS),
            "verb": lambda: pick(VERBS),
            "mod": lambda: pick(MODULES),
            "mod2": lambda: pick(MODULES),
            "pkg": lambda: pick(eco.packages),
            "tool": lambda: pick(eco.tools),
            "manifest": lambda: eco.manifest.replace("{Type}", self._type()),
            "env": lambda: pick(ENV_VARS),
            "ver": self._version,
            "ver2": self._version,
            "num": lambda: str(rng.randint(2, 9999)),
            "num2": lambda: str(rng.randint(2, 9999)),
            "small": lambda: str(rng.randint(1, 9)),
            "small2": lambda: str(rng.randint(1, 9)),
            "line": lambda: str(rng.randint(3, 900)),
            "col": lambda: str(rng.randint(1, 80)),
            "port": lambda: str(rng.choice((3000, 5432, 6379, 8000, 8080, 8443, 9092, 27017))),
            "status": lambda: str(rng.choice((400, 401, 403, 404, 409, 422, 429, 500, 502, 503))),
            "exit": lambda: str(rng.choice((1, 2, 101, 127, 137, 255))),
            "hex": lambda: f"{rng.getrandbits(32):08x}",
            "date": lambda: f"{rng.randint(1, 28):02d}/{rng.randint(1, 12):02d}/20{rng.randint(10, 26)}",
            "file": lambda: f"src/{pick(MODULES)}/{_case([pick(NOUNS)], eco.style)}.{eco.ext}",
            "id": lambda: "{id}",  # a JavaScript template literal's ${id}, kept as it is
            "component": self.component,
        }

    def slot(self, name: str, eco: Ecosystem, depth: int = 0) -> str:
        simple = self._slots.get(eco.language)
        if simple is None:
            simple = self._slots[eco.language] = self._simple_slots(eco)
        if name in simple:
            return simple[name]()
        if depth > 2:
            return self.pick(NOUNS)
        nested = {
            "cmd": eco.commands,
            "error": eco.errors,
            "code": eco.code,
            "cause": CAUSES,
            "fix": tuple(fix for _, fix in FIXES),
        }.get(name)
        if nested is None:
            raise KeyError(f"no slot named {name!r}")
        return self.fill(self.pick(nested), eco, depth + 1)

    def _version(self) -> str:
        return f"{self.rng.randint(0, 9)}.{self.rng.randint(0, 30)}.{self.rng.randint(0, 20)}"

    def component(self) -> str:
        return f"{self.pick(DOMAINS)} {self.pick(COMPONENT_NOUNS)}"

    def error(self, eco: Ecosystem, docker: bool) -> str:
        template = self.pick(DOCKER_ERRORS) if docker and self.rng.random() < 0.5 else self.pick(eco.errors)
        return self.fill(template, eco)


def _sentence(text: str) -> str:
    text = text.strip()
    return text[:1].upper() + text[1:]


class DraftFactory:
    """Makes MemoryDrafts of all four kinds and both outcomes."""

    KINDS = ((Kind.TRAJECTORY, 0.35), (Kind.SUMMARY, 0.30), (Kind.WORKFLOW, 0.20), (Kind.INSIGHT, 0.15))

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.text = TextFactory(self.rng)

    def draft(self) -> MemoryDraft:
        rng, t = self.rng, self.text
        eco = rng.choice(ECOSYSTEMS)
        kind = rng.choices([k for k, _ in self.KINDS], weights=[w for _, w in self.KINDS])[0]
        outcome = Outcome.SUCCESS if rng.random() < 0.7 else Outcome.FAILURE
        docker = rng.random() < 0.15
        tools = set(rng.sample(eco.tools, k=rng.randint(1, min(3, len(eco.tools)))))
        if docker:
            tools.add("docker")
        languages = [eco.language]
        if eco.language in ("typescript", "javascript") and rng.random() < 0.3:
            languages = ["typescript", "javascript"]
        component = t.component()
        make = {
            Kind.TRAJECTORY: self._trajectory,
            Kind.WORKFLOW: self._workflow,
            Kind.SUMMARY: self._summary,
            Kind.INSIGHT: self._insight,
        }[kind]
        title, description, content = make(eco, outcome, component, docker)
        project = rng.random() < 0.3
        return MemoryDraft(
            kind=kind,
            title=title,
            description=description,
            content=content,
            outcome=outcome,
            languages=tuple(languages),
            tools=tuple(sorted(tools)),
            scope=Scope.PROJECT if project else Scope.GLOBAL,
            check_command=t.fill(rng.choice(eco.commands), eco) if kind is not Kind.INSIGHT else "",
            provenance=Provenance(
                workspace=f"/home/dev/src/{rng.choice(MODULES)}-{rng.choice(NOUNS)}" if project else "",
                source="benchmark",
                episode_ids=(f"ep_{rng.getrandbits(48):012x}",),
            ),
        )

    def _resolution(self, eco: Ecosystem, outcome: Outcome, fix: str) -> str:
        if outcome is Outcome.SUCCESS:
            return f"Fixed: {fix}."
        reason = self.text.fill(self.rng.choice(FAIL_REASONS), eco)
        return f"Tried: {fix}; but {reason}."

    def _steps(self, eco: Ecosystem, low: int, high: int) -> list[str]:
        return [self.text.fill(self.rng.choice(STEPS), eco) for _ in range(self.rng.randint(low, high))]

    def _trajectory(self, eco: Ecosystem, outcome: Outcome, component: str, docker: bool) -> Texts:
        t, rng = self.text, self.rng
        error = t.error(eco, docker)
        cmd = t.fill(rng.choice(eco.commands), eco)
        fix = t.fill(rng.choice(FIXES)[1], eco)
        cause = t.fill(rng.choice(CAUSES), eco)
        shape = rng.randrange(3)
        if shape == 0:
            title, lead = error, f"In the {component}: {cause}."
        elif shape == 1:
            title, lead = f"`{cmd}` failed in the {component}", f"Got `{error}`."
        else:
            symptom = _sentence(t.fill(rng.choice(SYMPTOMS), eco))
            title, lead = f"{symptom} in the {component} ({eco.language})", f"Cause: {cause}."
        description = f"{lead} {self._resolution(eco, outcome, fix)}"
        steps = [f"Ran `{cmd}`", f"saw `{error}`", f"cause: {cause}", *self._steps(eco, 2, 4)]
        content = "\n".join(f"{i + 1}. {_sentence(step)}" for i, step in enumerate(steps))
        return title, description, content

    def _workflow(self, eco: Ecosystem, outcome: Outcome, component: str, docker: bool) -> Texts:
        t, rng = self.text, self.rng
        goal = t.fill(rng.choice(GOALS), eco)
        situation = t.fill(rng.choice(SITUATIONS), eco)
        title = rng.choice(
            (
                f"How to {goal} ({eco.language})",
                f"Steps to {goal} when {situation}",
                f"Checklist ({t.pick(eco.tools)}): {goal}",
            )
        )
        steps = self._steps(eco, 2, 3)
        numbered = "; ".join(f"{i + 1}) {step}" for i, step in enumerate(steps))
        if outcome is Outcome.FAILURE:
            description = f"Did not work: {numbered}; {t.fill(rng.choice(FAIL_REASONS), eco)}."
        else:
            description = f"{_sentence(numbered)}."
        content = (
            f"Context: {situation} in the {component}. "
            f"Verify with `{t.fill(rng.choice(eco.commands), eco)}`. "
            f"Cause seen before: {t.fill(rng.choice(CAUSES), eco)}."
        )
        if docker:
            content += f" In Docker: `{t.fill(rng.choice(DOCKER_ERRORS), eco)}`."
        return title, description, content

    def _summary(self, eco: Ecosystem, outcome: Outcome, component: str, docker: bool) -> Texts:
        t, rng = self.text, self.rng
        symptom = t.fill(rng.choice(SYMPTOMS), eco)
        cause = t.fill(rng.choice(CAUSES), eco)
        fix = t.fill(rng.choice(FIXES)[1], eco)
        title = rng.choice(
            (
                f"{_sentence(symptom)} in the {component}",
                f"{_sentence(symptom)} after {t.fill(rng.choice(SITUATIONS), eco)} ({eco.language})",
                f"Why the {component} showed {symptom}",
            )
        )
        description = f"Because {cause}. {self._resolution(eco, outcome, fix)}"
        content = (
            f"Error: `{t.error(eco, docker)}`. Seen with {', '.join(eco.tools[:2])} on {eco.language}; "
            f"check with `{t.fill(rng.choice(eco.commands), eco)}`."
        )
        return title, description, content

    def _insight(self, eco: Ecosystem, outcome: Outcome, component: str, docker: bool) -> Texts:
        t, rng = self.text, self.rng
        action, obj = rng.choice(ACTION_OBJECTS)
        anti, anti_ing = rng.choice(ANTI_ACTIONS)
        values = {
            "Action": action.capitalize(), "action_ing": f"{action}ing {obj}", "object": obj,
            "antiaction": anti, "antiaction_ing": anti_ing,
            "situation": t.fill(rng.choice(SITUATIONS), eco), "symptom": t.fill(rng.choice(SYMPTOMS), eco),
            "Symptom": _sentence(t.fill(rng.choice(SYMPTOMS), eco)), "cause": t.fill(rng.choice(CAUSES), eco),
            "component": component,
        }  # fmt: skip
        title = _SLOT.sub(lambda m: values[m.group(1)], rng.choice(INSIGHT_RULES))
        if outcome is Outcome.SUCCESS:
            description = f"Use when {t.fill(rng.choice(SITUATIONS), eco)} ({eco.language}, {component})."
        else:
            description = f"Misled us in the {component}: {t.fill(rng.choice(CAUSES), eco)}."
        content = (
            f"Learned from `{t.error(eco, docker)}`. Example fix: {t.fill(rng.choice(FIXES)[1], eco)}. "
            f"Seen with {', '.join(sorted(eco.tools[:2]))}."
        )
        return title, description, content


def generate_drafts(count: int, seed: int) -> list[MemoryDraft]:
    """``count`` drafts; the first n are the same for any count >= n (same seed)."""
    factory = DraftFactory(seed)
    return [factory.draft() for _ in range(count)]


def generate_queries(count: int, seed: int) -> list[str]:
    """Editor-context-like query texts (an error line, a code line, a failing command), distinct."""
    rng = random.Random(seed)
    text = TextFactory(rng)
    queries: list[str] = []
    seen: set[str] = set()
    while len(queries) < count:
        eco = rng.choice(ECOSYSTEMS)
        query = text.fill(rng.choice(QUERY_CONTEXT), eco)
        if query not in seen:
            seen.add(query)
            queries.append(query)
    return queries
