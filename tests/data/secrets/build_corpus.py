# ruff: noqa: E501  (a data builder: one template per line reads best)
"""Builds the secret corpus (``secrets.jsonl``) and the look-alike corpus (``lookalikes.jsonl``).

Every secret here is fake: random characters in the shape of a real credential (the prefix, the
length, the alphabet), made from a fixed seed so the files are reproducible::

    .venv/bin/python tests/data/secrets/build_corpus.py

``secrets.jsonl``: one line per secret *in one context*::

    {"kind": "github-pat", "secret": "ghp_...", "context": "dotenv", "text": "GITHUB_TOKEN=ghp_...",
     "keep": ["GITHUB_TOKEN="]}

The test passes when no 8-character window of ``secret`` survives redaction and every string in
``keep`` (what around the secret must stay readable) is still there.

``lookalikes.jsonl``: ``{"kind": "git-hash", "text": "..."}``; redaction must return the text as is.

The kinds follow the ones gitleaks and detect-secrets know (their rule *names*; no rule text is
copied), plus the context-dependent cases of issue 12.
"""

from __future__ import annotations

import base64
import json
import random
import string
import uuid
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
SEED = 20240611
R = random.Random(SEED)

UPPER = string.ascii_uppercase
LOWER = string.ascii_lowercase
DIGITS = string.digits
ALNUM = UPPER + LOWER + DIGITS
HEX = "0123456789abcdef"
B64 = ALNUM + "+/"
URLSAFE = ALNUM + "_-"


def pick(alphabet: str, n: int) -> str:
    return "".join(R.choice(alphabet) for _ in range(n))


def mixed(alphabet: str, n: int) -> str:
    """Random, but with at least one digit, one upper and one lower letter where the alphabet has
    them (so that it looks like what a provider issues)."""
    while True:
        value = pick(alphabet, n)
        checks = [set(value) & set(DIGITS)]
        if set(alphabet) & set(UPPER):
            checks.append(set(value) & set(UPPER))
        if set(alphabet) & set(LOWER):
            checks.append(set(value) & set(LOWER))
        if all(checks):
            return value


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def jwt() -> str:
    header = b64url(json.dumps({"alg": R.choice(["HS256", "RS256"]), "typ": "JWT"}).encode())
    claims = {"sub": str(R.randrange(10**6)), "name": R.choice(["ada", "bob", "eve"]), "iat": 1718000000}
    return f"{header}.{b64url(json.dumps(claims).encode())}.{b64url(R.randbytes(32))}"


def wrap(body: str, width: int = 64) -> list[str]:
    return [body[i : i + width] for i in range(0, len(body), width)]


_DER_PREFIX = {
    "RSA PRIVATE KEY": bytes.fromhex("308204a40201000282010100"),
    "PRIVATE KEY": bytes.fromhex("308204be020100300d06092a864886f70d0101010500048204a8"),
    "EC PRIVATE KEY": bytes.fromhex("30770201010420"),
    "OPENSSH PRIVATE KEY": b"openssh-key-v1\x00\x00\x00\x00\x04none",
}
_BODY_BYTES = {
    "RSA PRIVATE KEY": 1180,
    "PRIVATE KEY": 1210,
    "EC PRIVATE KEY": 115,
    "OPENSSH PRIVATE KEY": 380,
}


def key_body(label: str) -> str:
    prefix = _DER_PREFIX[label]
    return base64.b64encode(prefix + R.randbytes(_BODY_BYTES[label] - len(prefix))).decode()


def pem(label: str, body: str) -> str:
    width = 70 if label == "OPENSSH PRIVATE KEY" else 64
    return "\n".join([f"-----BEGIN {label}-----", *wrap(body, width), f"-----END {label}-----"])


BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"


# --------------------------------------------------------------------------------------------------
# Kinds: name -> (generator, env var name, family)
# --------------------------------------------------------------------------------------------------

TOKEN, KEYED, PASSWORD, SPECIAL = "token", "keyed", "password", "special"

Gen = Callable[[], str]
KINDS: dict[str, tuple[Gen, str, str]] = {
    "aws-access-key-id": (
        lambda: R.choice(["AKIA", "ASIA"]) + pick(UPPER + "234567", 16),
        "AWS_ACCESS_KEY_ID",
        TOKEN,
    ),
    "github-pat": (lambda: "ghp_" + mixed(ALNUM, 36), "GITHUB_TOKEN", TOKEN),
    "github-fine-grained-pat": (
        lambda: "github_pat_" + mixed(ALNUM, 22) + "_" + mixed(ALNUM, 59),
        "GH_TOKEN",
        TOKEN,
    ),
    "github-app-token": (
        lambda: R.choice(["gho_", "ghs_", "ghu_", "ghr_"]) + mixed(ALNUM, 36),
        "GITHUB_APP_TOKEN",
        TOKEN,
    ),
    "gitlab-pat": (lambda: "glpat-" + mixed(URLSAFE, 20), "GITLAB_TOKEN", TOKEN),
    "gitlab-runner-token": (
        lambda: R.choice(["glrt-", "glptt-"]) + mixed(ALNUM, 20),
        "CI_RUNNER_TOKEN",
        TOKEN,
    ),
    "slack-bot-token": (
        lambda: f"xoxb-{R.randrange(10**11, 10**12)}-{R.randrange(10**12, 10**13)}-{mixed(ALNUM, 24)}",
        "SLACK_BOT_TOKEN",
        TOKEN,
    ),
    "slack-user-token": (
        lambda: (
            f"xoxp-{R.randrange(10**11, 10**12)}-{R.randrange(10**11, 10**12)}-{R.randrange(10**12, 10**13)}-{pick(HEX, 32)}"
        ),
        "SLACK_USER_TOKEN",
        TOKEN,
    ),
    "slack-app-token": (
        lambda: f"xapp-1-A{pick(UPPER + DIGITS, 10)}-{R.randrange(10**12, 10**13)}-{pick(HEX, 64)}",
        "SLACK_APP_TOKEN",
        TOKEN,
    ),
    "slack-webhook": (
        lambda: (
            f"https://hooks.slack.com/services/T{pick(UPPER + DIGITS, 8)}/B{pick(UPPER + DIGITS, 10)}/{mixed(ALNUM, 24)}"
        ),
        "SLACK_WEBHOOK_URL",
        TOKEN,
    ),
    "stripe-secret-key": (lambda: "sk_live_" + mixed(ALNUM, 24), "STRIPE_SECRET_KEY", TOKEN),
    "stripe-restricted-key": (lambda: "rk_live_" + mixed(ALNUM, 99), "STRIPE_RESTRICTED_KEY", TOKEN),
    "stripe-webhook-secret": (lambda: "whsec_" + mixed(ALNUM, 32), "STRIPE_WEBHOOK_SECRET", TOKEN),
    "twilio-api-key": (lambda: "SK" + pick(HEX, 32), "TWILIO_API_KEY", TOKEN),
    "sendgrid-api-key": (lambda: f"SG.{mixed(URLSAFE, 22)}.{mixed(URLSAFE, 43)}", "SENDGRID_API_KEY", TOKEN),
    "telegram-bot-token": (
        lambda: f"{R.randrange(10**9, 8 * 10**9)}:AA{mixed(URLSAFE, 33)}",
        "TELEGRAM_BOT_TOKEN",
        TOKEN,
    ),
    "shopify-token": (
        lambda: R.choice(["shpat_", "shpss_", "shpca_", "shppa_"]) + pick(HEX, 32),
        "SHOPIFY_ACCESS_TOKEN",
        TOKEN,
    ),
    "discord-webhook": (
        lambda: f"https://discord.com/api/webhooks/{R.randrange(10**17, 10**18)}/{mixed(URLSAFE, 68)}",
        "DISCORD_WEBHOOK",
        TOKEN,
    ),
    "discord-bot-token": (
        lambda: f"{R.choice('MNO')}{mixed(ALNUM, 23)}.{mixed(URLSAFE, 6)}.{mixed(URLSAFE, 38)}",
        "DISCORD_BOT_TOKEN",
        TOKEN,
    ),
    "age-secret-key": (lambda: "AGE-SECRET-KEY-1" + pick(BECH32, 58).upper(), "SOPS_AGE_KEY", TOKEN),
    "jwt": (jwt, "ID_TOKEN", TOKEN),
    "npm-token": (lambda: "npm_" + mixed(ALNUM, 36), "NPM_TOKEN", TOKEN),
    "pypi-token": (lambda: "pypi-AgEIcHlwaS5vcmc" + mixed(URLSAFE, 70), "PYPI_TOKEN", TOKEN),
    "huggingface-token": (lambda: "hf_" + mixed(ALNUM, 34), "HF_TOKEN", TOKEN),
    "openai-key": (
        lambda: "sk-proj-" + mixed(URLSAFE, 74) + "T3BlbkFJ" + mixed(URLSAFE, 74),
        "OPENAI_API_KEY",
        TOKEN,
    ),
    "anthropic-key": (lambda: "sk-ant-api03-" + mixed(URLSAFE, 93) + "AA", "ANTHROPIC_API_KEY", TOKEN),
    "digitalocean-token": (lambda: "dop_v1_" + pick(HEX, 64), "DIGITALOCEAN_TOKEN", TOKEN),
    "vault-token": (lambda: "hvs." + mixed(URLSAFE, 90), "VAULT_TOKEN", TOKEN),
    "gcp-api-key": (lambda: "AIza" + mixed(URLSAFE, 35), "GOOGLE_API_KEY", TOKEN),
    "gcp-oauth-client-secret": (lambda: "GOCSPX-" + mixed(URLSAFE, 28), "GOOGLE_CLIENT_SECRET", TOKEN),
    "databricks-token": (lambda: "dapi" + pick(HEX, 32), "DATABRICKS_TOKEN", TOKEN),
    "linear-api-key": (lambda: "lin_api_" + mixed(ALNUM, 40), "LINEAR_API_KEY", TOKEN),
    "postman-api-key": (lambda: f"PMAK-{pick(HEX, 24)}-{pick(HEX, 34)}", "POSTMAN_API_KEY", TOKEN),
    "pulumi-token": (lambda: "pul-" + pick(HEX, 40), "PULUMI_ACCESS_TOKEN", TOKEN),
    "grafana-token": (lambda: f"glsa_{mixed(ALNUM, 32)}_{pick(HEX, 8)}", "GRAFANA_TOKEN", TOKEN),
    "sentry-token": (lambda: "sntryu_" + pick(HEX, 64), "SENTRY_AUTH_TOKEN", TOKEN),
    "new-relic-key": (lambda: "NRAK-" + pick(UPPER + DIGITS, 27), "NEW_RELIC_API_KEY", TOKEN),
    "doppler-token": (lambda: "dp.pt." + mixed(ALNUM, 43), "DOPPLER_TOKEN", TOKEN),
    "dockerhub-token": (lambda: "dckr_pat_" + mixed(URLSAFE, 27), "DOCKERHUB_TOKEN", TOKEN),
    "supabase-token": (lambda: "sbp_" + pick(HEX, 40), "SUPABASE_ACCESS_TOKEN", TOKEN),
    "atlassian-token": (
        lambda: "ATATT3xFfGF0" + mixed(URLSAFE, 170) + "=" + pick(HEX.upper(), 8),
        "JIRA_API_TOKEN",
        TOKEN,
    ),
    "mailchimp-key": (lambda: pick(HEX, 32) + f"-us{R.randrange(1, 21)}", "MAILCHIMP_API_KEY", TOKEN),
    "mailgun-key": (lambda: "key-" + pick(HEX, 32), "MAILGUN_API_KEY", TOKEN),
    "alibaba-access-key": (lambda: "LTAI" + mixed(ALNUM, 20), "ALIBABA_ACCESS_KEY_ID", TOKEN),
    "square-token": (lambda: "EAAA" + mixed(URLSAFE, 60), "SQUARE_ACCESS_TOKEN", TOKEN),
    "mapbox-secret-token": (
        lambda: (
            f"sk.{b64url(json.dumps({'u': 'ada', 'a': pick(LOWER + DIGITS, 20)}).encode())}.{mixed(URLSAFE, 22)}"
        ),
        "MAPBOX_SECRET_TOKEN",
        TOKEN,
    ),
    "airtable-pat": (lambda: f"pat{mixed(ALNUM, 14)}.{pick(HEX, 64)}", "AIRTABLE_TOKEN", TOKEN),
    "notion-token": (lambda: "ntn_" + mixed(ALNUM, 46), "NOTION_TOKEN", TOKEN),
    "figma-token": (lambda: "figd_" + mixed(URLSAFE, 40), "FIGMA_TOKEN", TOKEN),
    "terraform-cloud-token": (lambda: f"{mixed(ALNUM, 14)}.atlasv1.{mixed(ALNUM, 67)}", "TFE_TOKEN", TOKEN),
    # Found by the key that names them: the value alone is just random characters.
    "aws-secret-access-key": (lambda: mixed(B64, 40), "AWS_SECRET_ACCESS_KEY", KEYED),
    "twilio-auth-token": (lambda: pick(HEX, 32), "TWILIO_AUTH_TOKEN", KEYED),
    "datadog-api-key": (lambda: pick(HEX, 32), "DD_API_KEY", KEYED),
    "heroku-api-key": (lambda: str(uuid.UUID(bytes=R.randbytes(16), version=4)), "HEROKU_API_KEY", KEYED),
    "generic-api-key": (lambda: mixed(ALNUM, 32), "PAYMENTS_API_KEY", KEYED),
    "django-secret-key": (
        lambda: "django-insecure-" + mixed(LOWER + DIGITS + "!@#%^&*(-_=+)", 50).replace("#", "%"),
        "SECRET_KEY",
        KEYED,
    ),
}

PASSWORD_LIST = [
    "hunter2x!",
    "Tr0ub4dor&3",
    "s3cr3t-Passw0rd",
    "correct-h0rse-9",
    "P@ssw0rd2024",
    "Zq8#mW2!vL",
    "aB3$kkd9Q",
    "letmein-77",
    "Winter2024!",
    "qwe123QWE#",
    "dragon!88z",
    "Ma5ter%key",
    "plm0okn9I?",
    "N0tS0Secret!",
    "Sunsh1ne_42",
    "r00t&toor",
    "X9vB2nQ7",
    "ch4ngeM3!",
    "Gr33nTea*7",
    "blu3-Sky-88",
    "m1x3dCase^9",
    "K3yb0ard!!",
    "0rangeJuice$",
    "Tig3r_Lily5",
    "F4lcon#Nest",
    "pa55.w0rd!",
    "Qu1ckBr0wnF0x",
    "S0larW1nd&7",
    "v3ryL0ng!Pass",
    "Cr1msonT1de%",
    "M00nl1ght_9",
    "H1ghV0ltage!",
    "7Seas&Sk1es",
    "iR0nM4n-3k",
    "B4nanaSpl1t!",
    "Ech0Ech0#1",
    "N1ghtOwl!23",
    "St4rD4st%%",
    "Ic3Cr34m_5",
    "Zebr4Cr0ss!",
    "Pin3appl3&2",
    "W4terf4ll!9",
    "T0rnad0-X1",
    "Bl1zz4rd#77",
    "Rainb0w!Road",
    "Gl4cier_Bay8",
    "Vulc4n!Ash3",
]


def keep_left(text: str, secret: str, n: int = 12) -> list[str]:
    """The last ``n`` characters before the secret's first occurrence (they must stay readable)."""
    left = text[: text.index(secret)]
    return [left[-n:]] if left.strip() else []


def token_contexts(kind: str, s: str, env: str) -> dict[str, tuple[str, list[str]]]:
    low = env.lower()
    return {
        "terminal-export": (
            f"dev@laptop:~/app$ export {env}={s}\ndev@laptop:~/app$ ./deploy.sh --env prod\nDeploying web (3 tasks)...\n",
            [f"export {env}=", "./deploy.sh --env prod"],
        ),
        "terminal-output": (
            f"$ vault read -field=value kv/ci/{low}\n{s}\n$ echo done\ndone\n",
            ["vault read -field=value", "$ echo done"],
        ),
        "code-quoted": (
            f'client = ApiClient(token="{s}", timeout=30)\n',
            ["client = ApiClient(token=", "timeout=30"],
        ),
        "code-unquoted": (
            f"integrations:\n  {kind}:\n    {low}: {s}\n    enabled: true\n",
            [f"    {low}: ", "enabled: true"],
        ),
        "dotenv": (
            f"# .env.production\nNODE_ENV=production\n{env}={s}\nPORT=8080\n",
            ["NODE_ENV=production", f"{env}=", "PORT=8080"],
        ),
        "url": (
            f"GET https://api.example.com/v2/sync?access_token={s}&page=2 -> 200\n",
            ["https://api.example.com/v2/sync?access_token=", "&page=2"],
        ),
        "header": (
            f'curl -sS -H "Authorization: Bearer {s}" https://api.example.com/v1/me\n',
            ["curl -sS -H", "https://api.example.com/v1/me"],
        ),
        "commit-prose": (
            f"Rotate the leaked credential\n\nThe old value {s} was pushed by mistake and is revoked now.\n",
            ["The old value ", " was pushed by mistake"],
        ),
        "cut-off": (f'{low} = "{s}', [f'{low} = "']),
        "json-log": (
            json.dumps({"level": "debug", "msg": "loaded credentials", low: s, "ok": True}) + "\n",
            ['"msg": "loaded credentials"'],
        ),
        "mid-line": (
            f"cd services/api && {env}={s} npm run migrate\n",
            ["cd services/api && ", "npm run migrate"],
        ),
    }


def keyed_contexts(kind: str, s: str, env: str) -> dict[str, tuple[str, list[str]]]:
    low = env.lower()
    return {
        "terminal-export": (
            f"ci@runner:~$ export {env}={s}\nci@runner:~$ make release\n",
            [f"export {env}=", "make release"],
        ),
        "code-quoted": (f'settings.{low} = "{s}"\n', [f"settings.{low} = "]),
        "code-unquoted": (
            f"production:\n  {low}: {s}\n  region: eu-west-1\n",
            [f"  {low}: ", "region: eu-west-1"],
        ),
        "dotenv": (f"APP_NAME=shop\n{env}={s}\nDEBUG=false\n", ["APP_NAME=shop", f"{env}=", "DEBUG=false"]),
        "json": (json.dumps({"service": "billing", low: s}) + "\n", ['"service": "billing"']),
        "cut-off": (f"{env}='{s}\n", [f"{env}='"]),
        "mid-line": (f"sudo -E env {env}={s} ./bin/worker --once\n", ["sudo -E env ", "./bin/worker --once"]),
        "header": (
            f"X-{env.title().replace('_', '-')}: {s}\nAccept: application/json\n",
            ["Accept: application/json"],
        ),
    }


def key_contexts(label: str) -> dict[str, tuple[str, str, list[str]]]:
    """Private keys: (secret, text, keep). The secret is the base64 body (what must not survive)."""
    body = key_body(label)
    width = 70 if label == "OPENSSH PRIVATE KEY" else 64
    lines = wrap(body, width)
    block = pem(label, body)
    joined = "\n".join(lines)
    out = {
        "pem-file": (
            joined,
            f"$ cat ~/.ssh/deploy_key\n{block}\n$ chmod 600 ~/.ssh/deploy_key\n",
            ["$ chmod 600"],
        ),
        "no-begin-line": (
            "\n".join(lines[1:]),
            "$ tail -n +2 key.pem\n" + "\n".join(lines[1:]) + f"\n-----END {label}-----\n",
            ["$ tail -n +2 key.pem"],
        ),
        "cut-off": ("\n".join(lines[:3]), f"-----BEGIN {label}-----\n" + "\n".join(lines[:3]) + "\n", []),
        "json-escaped": (joined, json.dumps({"type": "deploy", "key": block}) + "\n", ['{"type": "deploy"']),
    }
    if label != "OPENSSH PRIVATE KEY":
        out["body-only"] = (joined, "$ sed -n '2,$p' key.pem | head -n -1\n" + joined + "\n", ["$ sed -n"])
        out["one-line-env"] = (body, f"TLS_PRIVATE_KEY={body}\n", ["TLS_PRIVATE_KEY="])
    return out


def password_shape(p: str, i: int) -> tuple[str, str, str, list[str]]:
    """(kind, context, text, keep): shape ``i`` (of ``PASSWORD_SHAPES``) holding password ``p``."""
    host = R.choice(["db.internal", "10.0.3.7", "pg.prod.example.com", "localhost"])
    user = R.choice(["app", "admin", "deploy", "ada", "ci"])
    return [
        (
            "url-password",
            "dotenv",
            f"DATABASE_URL=postgres://{user}:{p}@{host}:5432/app\n",
            [f"postgres://{user}:", f"@{host}:5432/app"],
        ),
        (
            "url-password",
            "terminal",
            f'$ psql "postgresql://{user}:{p}@{host}/app?sslmode=require"\npsql (16.2)\n',
            ["$ psql", f"@{host}/app"],
        ),
        (
            "url-password",
            "code-quoted",
            f'engine = create_engine("mysql+pymysql://{user}:{p}@{host}/shop")\n',
            ["create_engine(", f"@{host}/shop"],
        ),
        (
            "url-password",
            "git-remote",
            f"git clone https://{user}:{p}@git.example.com/team/repo.git\n",
            ["git clone https://", "@git.example.com/team/repo.git"],
        ),
        (
            "curl-basic-auth",
            "terminal",
            f'$ curl -u {user}:{p} https://{host}/api/health\n{{"ok":true}}\n',
            ["$ curl -u ", f"https://{host}/api/health"],
        ),
        (
            "curl-basic-auth",
            "long-option",
            f'curl -sSf --user "{user}:{p}" -X POST https://ci.example.com/job/build\n',
            ["curl -sSf --user", "-X POST"],
        ),
        (
            "curl-basic-auth",
            "script",
            f"  curl -fsSL -u '{user}:{p}' \"$NEXUS/repository/raw/\" -o out.tgz\n",
            ["curl -fsSL -u", "-o out.tgz"],
        ),
        (
            "jdbc-password",
            "properties",
            f"spring.datasource.url=jdbc:postgresql://{host}:5432/app?user={user}&password={p}&ssl=true\n",
            ["spring.datasource.url=jdbc:postgresql://", "&ssl=true"],
        ),
        (
            "jdbc-password",
            "code-quoted",
            f'String url = "jdbc:mysql://{host}:3306/shop?useSSL=true&password={p}&serverTimezone=UTC";\n',
            ["String url = ", "&serverTimezone=UTC"],
        ),
        (
            "jdbc-password",
            "sqlserver",
            f"jdbc:sqlserver://{host}:1433;databaseName=erp;user=sa;password={p};encrypt=true\n",
            ["databaseName=erp;user=sa;", ";encrypt=true"],
        ),
        (
            "prose-password",
            "chat",
            f"fyi the password is {p} for the staging box\n",
            ["fyi the password is ", " for the staging box"],
        ),
        (
            "prose-password",
            "commit",
            f"Fix login for the demo user\n\nThe demo password was {p} until today; it is rotated.\n",
            ["The demo password was ", "until today"],
        ),
        ("prose-password", "note", f"Wi-Fi: guest-net, password: {p}\n", ["Wi-Fi: guest-net, password: "]),
        (
            "prose-password",
            "passphrase",
            f"unlock the backup with passphrase {p} then run restore.sh\n",
            ["unlock the backup with passphrase ", " then run restore.sh"],
        ),
        (
            "prompt-env-password",
            "bash-prompt",
            f"$ PGPASSWORD={p} psql -h {host} -U {user} app\n",
            ["$ PGPASSWORD=", f"psql -h {host}"],
        ),
        (
            "prompt-env-password",
            "user-prompt",
            f"{user}@box:~/db$ PGPASSWORD='{p}' pg_dump -h {host} app > dump.sql\n",
            ["~/db$ PGPASSWORD=", "pg_dump -h"],
        ),
        (
            "prompt-env-password",
            "zsh-prompt",
            f'❯ MYSQL_PWD="{p}" mysql -u root shop\n',
            ["❯ MYSQL_PWD=", "mysql -u root shop"],
        ),
        (
            "prompt-env-password",
            "history",
            f"  412  REDIS_PASSWORD={p} redis-cli -h cache ping\n",
            ["  412  REDIS_PASSWORD=", "redis-cli -h cache ping"],
        ),
        (
            "code-password",
            "python",
            f'conn = psycopg.connect(host="{host}", user="{user}", password="{p}")\n',
            ["conn = psycopg.connect(", f'user="{user}"'],
        ),
        (
            "code-password",
            "yaml",
            f"database:\n  user: {user}\n  password: {p}\n  host: {host}\n",
            [f"user: {user}", f"host: {host}"],
        ),
        ("code-password", "cut-off", f'DB_PASSWORD="{p}', ['DB_PASSWORD="']),
        (
            "code-password",
            "xml",
            f"<server>\n  <id>nexus</id>\n  <password>{p}</password>\n</server>\n",
            ["<id>nexus</id>"],
        ),
        (
            "code-password",
            "cli-flag",
            f"./manage.py createsuperuser --username {user} --password {p} --noinput\n",
            ["--username", "--noinput"],
        ),
        (
            "docker-login-password",
            "terminal",
            f"$ docker login -u {user} -p {p} registry.example.com\nLogin Succeeded\n",
            ["$ docker login -u", "registry.example.com"],
        ),
        (
            "mysql-password",
            "terminal",
            f"$ mysql -u{user} -p{p} -h {host} shop\n",
            ["$ mysql -u", f"-h {host} shop"],
        ),
        (
            "sshpass-password",
            "terminal",
            f"$ sshpass -p '{p}' ssh {user}@{host} uptime\n",
            ["$ sshpass -p ", f"ssh {user}@{host} uptime"],
        ),
        (
            "netrc-password",
            "netrc",
            f"machine {host} login {user} password {p}\n",
            [f"machine {host} login {user} password "],
        ),
    ][i % PASSWORD_SHAPES]


PASSWORD_SHAPES = 27


def basic_header(user: str, p: str) -> str:
    return base64.b64encode(f"{user}:{p}".encode()).decode()


def build_secrets() -> list[dict[str, object]]:
    entries: list[dict[str, object]] = []
    passwords = iter(PASSWORD_LIST)

    def add(kind: str, secret: str, context: str, text: str, keep: list[str]) -> None:
        assert all(piece in text for piece in secret_pieces(secret)), (kind, context)
        entries.append({"kind": kind, "secret": secret, "context": context, "text": text, "keep": keep})

    for kind, (gen, env, family) in KINDS.items():
        for _ in range(3):
            s = gen()
            # A webhook URL is public but for its path: that part is the secret.
            secret = (
                s.split("/services/" if "/services/" in s else "/webhooks/", 1)[1]
                if kind.endswith("webhook")
                else s
            )
            contexts = token_contexts(kind, s, env) if family == TOKEN else keyed_contexts(kind, s, env)
            for context, (text, keep) in contexts.items():
                add(kind, secret, context, text, keep)
    for label in _DER_PREFIX:
        kind = (
            "private-key-" + label.split(" PRIVATE")[0].lower().replace(" ", "-")
            if label != "PRIVATE KEY"
            else "private-key-pkcs8"
        )
        for _ in range(2):
            for context, (secret, text, keep) in key_contexts(label).items():
                add(kind, secret, context, text, keep)
    # GCP service-account JSON: the private key sits in a JSON string with \n escapes.
    for _ in range(3):
        body = key_body("PRIVATE KEY")
        block = pem("PRIVATE KEY", body) + "\n"
        account = {
            "type": "service_account",
            "project_id": f"shop-{R.randrange(1000, 9999)}",
            "private_key_id": pick(HEX, 40),
            "private_key": block,
            "client_email": f"ci@shop-{R.randrange(1000, 9999)}.iam.gserviceaccount.com",
        }
        add(
            "gcp-service-account",
            "\n".join(wrap(body)),
            "json-file",
            json.dumps(account, indent=2) + "\n",
            ['"type": "service_account"'],
        )
        add(
            "gcp-service-account",
            account["private_key_id"],
            "json-file-id",
            json.dumps(account) + "\n",
            ['"type": "service_account"'],
        )
        add(
            "gcp-service-account",
            body[64:128],
            "json-cut-off",
            json.dumps(account)[:700],
            ['"type": "service_account"'],
        )
    # Azure connection strings and SAS.
    for _ in range(3):
        account_key = base64.b64encode(R.randbytes(64)).decode()
        conn = f"DefaultEndpointsProtocol=https;AccountName=shopdata{R.randrange(99)};AccountKey={account_key};EndpointSuffix=core.windows.net"
        add(
            "azure-storage-connection-string",
            account_key,
            "dotenv",
            f"AZURE_STORAGE_CONNECTION_STRING={conn}\n",
            [
                "AZURE_STORAGE_CONNECTION_STRING=DefaultEndpointsProtocol=https;",
                ";EndpointSuffix=core.windows.net",
            ],
        )
        add(
            "azure-storage-connection-string",
            account_key,
            "json",
            json.dumps({"ConnectionStrings": {"Blob": conn}}) + "\n",
            ["ConnectionStrings"],
        )
        add(
            "azure-storage-connection-string",
            account_key,
            "terminal",
            f'$ az storage blob list --connection-string "{conn}" -c logs\n',
            ["$ az storage blob list --connection-string", "-c logs"],
        )
        sb_key = base64.b64encode(R.randbytes(32)).decode()
        sb = f"Endpoint=sb://shop-bus.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey={sb_key}"
        add(
            "azure-servicebus-key",
            sb_key,
            "dotenv",
            f"SERVICEBUS_CONNECTION={sb}\n",
            ["SERVICEBUS_CONNECTION=Endpoint=sb://"],
        )
        add(
            "azure-servicebus-key",
            sb_key,
            "code-quoted",
            f'var client = new ServiceBusClient("{sb}");\n',
            ["var client = new ServiceBusClient("],
        )
        sig = (
            base64.b64encode(R.randbytes(32))
            .decode()
            .replace("+", "%2B")
            .replace("/", "%2F")
            .replace("=", "%3D")
        )
        sas = f"https://shopdata.blob.core.windows.net/logs/app.log?sv=2022-11-02&ss=b&srt=o&sp=r&se=2025-01-01T00:00:00Z&sig={sig}"
        add(
            "azure-sas-token",
            sig,
            "url",
            f"wget '{sas}' -O app.log\n",
            ["wget 'https://shopdata.blob.core.windows.net/logs/app.log?sv=2022-11-02", "-O app.log"],
        )
        add("azure-sas-token", sig, "terminal", f'$ azcopy copy ./dist "{sas}"\n', ["$ azcopy copy ./dist"])
    # Authorization headers with opaque values.
    for _ in range(3):
        opaque = mixed(ALNUM + "-._~", 40)
        add(
            "bearer-token",
            opaque,
            "http-header",
            f"GET /v1/orders HTTP/1.1\nHost: api.example.com\nAuthorization: Bearer {opaque}\nAccept: */*\n",
            ["Host: api.example.com", "Authorization: Bearer ", "Accept: */*"],
        )
        add(
            "bearer-token",
            opaque,
            "curl",
            f"curl -H 'Authorization: Bearer {opaque}' https://api.example.com/v1/orders\n",
            ["https://api.example.com/v1/orders"],
        )
        add(
            "bearer-token",
            opaque,
            "code",
            f'headers = {{"Authorization": f"Bearer {opaque}"}}\n',
            ['headers = {"Authorization": '],
        )
        add(
            "bearer-token",
            opaque,
            "cut-off",
            f'  -H "authorization: bearer {opaque}',
            ['  -H "authorization: bearer '],
        )
        cred = basic_header(R.choice(["ada", "ci-bot", "admin"]), next(passwords))
        add(
            "basic-auth-header",
            cred,
            "http-header",
            f"POST /upload HTTP/1.1\nAuthorization: Basic {cred}\nContent-Length: 12\n",
            ["Authorization: Basic ", "Content-Length: 12"],
        )
        add(
            "basic-auth-header",
            cred,
            "curl",
            f'curl -H "Authorization: Basic {cred}" https://repo.example.com/upload\n',
            ["https://repo.example.com/upload"],
        )
        add(
            "basic-auth-header",
            cred,
            "nginx",
            f'proxy_set_header Authorization "Basic {cred}";\n',
            ["proxy_set_header Authorization"],
        )
    # Passwords in their many contexts: each password in three of the 27 shapes, every shape used.
    for i in range(PASSWORD_SHAPES * 2):
        p = next(passwords, None) or mixed(ALNUM + "!%&*", 12)
        for j in range(3):
            kind, context, text, keep = password_shape(p, i * 3 + j)
            add(kind, p, context, text, keep)
    return entries


# --------------------------------------------------------------------------------------------------
# Look-alikes
# --------------------------------------------------------------------------------------------------


def secret_pieces(secret: str) -> list[str]:
    """A multi-line secret (a key body) as its lines: in JSON they are joined by ``\\n``."""
    return [piece for piece in secret.replace("\\n", "\n").split("\n") if piece]


def sha(n: int) -> str:
    return pick(HEX, n)


def build_lookalikes() -> list[dict[str, str]]:
    out: list[dict[str, str]] = []

    def add(kind: str, text: str) -> None:
        out.append({"kind": kind, "text": text})

    for i in range(12):
        h, p = sha(40), sha(40)
        add(
            "git-hash",
            f"commit {h}\nMerge: {p[:7]} {sha(7)}\nAuthor: Ada Lovelace <ada@example.com>\nDate:   Tue Jun 11 10:{i:02d}:11 2024 +0200\n\n    Fix token refresh race in the pool\n",
        )
        add(
            "git-hash",
            f"diff --git a/src/auth.py b/src/auth.py\nindex {sha(7)}..{sha(7)} 100644\n--- a/src/auth.py\n+++ b/src/auth.py\n",
        )
        add("git-hash", f"$ git rev-parse HEAD\n{h}\n$ git push origin {h[:12]}:refs/heads/main\n")
    for i in range(10):
        u = str(uuid.UUID(bytes=R.randbytes(16), version=4))
        add("uuid", json.dumps({"request_id": u, "status": 200, "path": f"/api/items/{i}"}) + "\n")
        add("uuid", f'  uid: {u}\n  resourceVersion: "{R.randrange(10**6)}"\n')
        add("uuid", f"X-Request-Id: {u}\nX-Correlation-Id: {uuid.UUID(bytes=R.randbytes(16), version=4)}\n")
    for i in range(8):
        blob = base64.b64encode(R.randbytes(R.randrange(12, 40))).decode()
        add("base64-test-data", f'    assert encode(payload) == "{blob}"\n')
        add(
            "base64-test-data",
            f'SAMPLE_PNG = "data:image/png;base64,iVBORw0KGgo{base64.b64encode(R.randbytes(30)).decode()}"\n',
        )
        wrapped = base64.encodebytes(R.randbytes(300)).decode()  # 76-column lines, like `base64`
        add("base64-test-data", f"$ head -c 300 /dev/urandom | base64\n{wrapped}$ echo ok\n")
        add(
            "base64-test-data",
            f'fixture = b64decode(b"{base64.b64encode(f"test payload {i}".encode()).decode()}")\n',
        )
    for i in range(10):
        d = sha(64)
        add("sha256-checksum", f"{d}  carryover-0.{i}.0-py3-none-any.whl\n")
        add("sha256-checksum", f"SHA256 (release-{i}.tar.gz) = {sha(64)}\n")
        add("sha256-checksum", f"    --hash=sha256:{sha(64)} \\\n    --hash=sha256:{sha(64)}\n")
    for i in range(10):
        add("semver", f"Successfully installed numpy-2.0.{i} pydantic-2.{i}.1 lancedb-0.{i + 5}.2rc1\n")
        add(
            "semver",
            f'"version": "{i}.{R.randrange(30)}.{R.randrange(30)}-beta.{i}+build.{R.randrange(9999)}"\n',
        )
    for name in (
        "AbstractSingletonProxyFactoryBeanTokenRefreshInterceptor",
        "test_token_refresh_handles_expired_tokens_gracefully",
        "validate_password_strength_against_policy",
        "SecretManagerServiceClientConfigurationBuilder",
        "handle_authorization_header_without_bearer_prefix",
        "PASSWORD_MIN_LENGTH_FOR_ADMIN_ACCOUNTS",
        "refresh_token_expiry_seconds",
        "api_key_rotation_schedule_days",
        "KeyVaultSecretReferenceResolver",
        "privateKeyPemFilePathFromEnvironment",
    ):
        add(
            "long-identifier",
            f"def {name}(self) -> None:\n    return None\n"
            if name[0].islower()
            else f"class {name}:\n    pass\n",
        )
        add("long-identifier", f"{name} = {R.randrange(1, 9000)}\n")
    for i in range(12):
        add("npm-integrity", f'      "integrity": "sha512-{base64.b64encode(R.randbytes(64)).decode()}",\n')
        add(
            "npm-integrity",
            f'  resolved "https://registry.yarnpkg.com/lodash/-/lodash-4.17.{i}.tgz#{sha(40)}"\n  integrity sha1-{base64.b64encode(R.randbytes(20)).decode()}\n',
        )
    for i in range(10):
        add(
            "docker-digest",
            f"{i}.{i}: Pulling from library/python\nDigest: sha256:{sha(64)}\nStatus: Downloaded newer image for python:3.{i}-slim\n",
        )
        add("docker-digest", f"FROM python:3.12-slim@sha256:{sha(64)}\n")
        add(
            "docker-digest",
            f"REPOSITORY   TAG     IMAGE ID       CREATED\ncarry/web    1.{i}     {sha(12)}   2 days ago\n",
        )
    for i in range(5):
        add(
            "go-sum",
            f"github.com/stretchr/testify v1.9.{i} h1:{base64.b64encode(R.randbytes(32)).decode()}\n",
        )
        add("cargo-lock", f'[[package]]\nname = "serde"\nversion = "1.0.{200 + i}"\nchecksum = "{sha(64)}"\n')
        add(
            "sri-hash",
            f'<script src="https://cdn.example.com/app.{sha(8)}.js" integrity="sha384-{base64.b64encode(R.randbytes(48)).decode()}" crossorigin="anonymous"></script>\n',
        )
        add(
            "ssh-public-key",
            f"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI{base64.b64encode(R.randbytes(32)).decode()} ada@laptop\n",
        )
        add(
            "ssh-public-key",
            f"ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ{base64.b64encode(R.randbytes(256)).decode()} deploy@ci\n",
        )
    for _ in range(3):
        cert = base64.b64encode(bytes.fromhex("308203c5308202ada003020102") + R.randbytes(900)).decode()
        add(
            "certificate",
            "-----BEGIN CERTIFICATE-----\n" + "\n".join(wrap(cert)) + "\n-----END CERTIFICATE-----\n",
        )
        pub = base64.b64encode(
            bytes.fromhex("30820122300d06092a864886f70d01010105000382010f00") + R.randbytes(270)
        ).decode()
        add(
            "public-key",
            "-----BEGIN PUBLIC KEY-----\n" + "\n".join(wrap(pub)) + "\n-----END PUBLIC KEY-----\n",
        )
    for text in (
        'password = os.environ["DB_PASSWORD"]\n', "token: ${{ secrets.GITHUB_TOKEN }}\n",
        'curl -H "Authorization: Bearer $TOKEN" https://api.example.com\n', "api_key=None\n",
        "export AWS_SECRET_ACCESS_KEY=$(pass show aws/secret)\n", 'mysql -u root -p"$MYSQL_PASSWORD" shop\n',
        'curl -u "$USER:$PASS" https://example.com\n', "DATABASE_URL=postgres://app@localhost:5432/app\n",
        "jdbc:postgresql://localhost:5432/app?user=app&ssl=true\n", "    password: str = Field(min_length=12)\n",
        "if password is None:\n    raise ValueError('password is required')\n", "Authorization: Bearer <token>\n",
        "docker login -u ada --password-stdin < token.txt\n", "PGPASSWORD=${PGPASSWORD:?} psql -h db\n",
        "git clone https://github.com/carryover/carryover.git\n", "const token = await getToken(request);\n",
        "$ gh auth login --with-token < ~/.config/gh/token\n", "secretKeyRef: {name: db, key: password}\n",
        "max_tokens=512, temperature=0.2, top_p=0.9\n", "token_count: 4096\n",
        'redis_url = "redis://cache:6379/0"\n', "password_reset_url = '/accounts/reset/'\n",
        "secret_name: prod-db-credentials\n", "AWS_REGION=eu-west-1\nAWS_PROFILE=staging\n",
        "key: value\napiVersion: v1\nkind: Secret\n", 'headers = {"Authorization": f"Bearer {token}"}\n',
        "pk_live_51H8xYZ is the publishable key prefix shown in the docs\n", "https://4f1b2c3d@o123456.ingest.sentry.io/7654321\n",
        "the password is stored in Vault under kv/app\n", "the password was reset yesterday by the admin\n",
        "Password must be at least 12 characters long.\n", "your password is too weak, try again\n",
        "user@host:~/app$ ssh deploy@10.0.3.7\n", "Connecting to 10.0.3.7:5432 as app...\n",
    ):  # fmt: skip
        add("secret-reference", text)
    for i in range(5):
        add(
            "aws-resource",
            f'  + id = "i-0{sha(16)}"\n  + arn = "arn:aws:iam::{R.randrange(10**11, 10**12)}:role/deploy-{i}"\n',
        )
        add(
            "http-metadata",
            f'ETag: "{sha(32)}"\nx-amz-request-id: {sha(16).upper()}\nx-amz-id-2: {base64.b64encode(R.randbytes(48)).decode()}\n',
        )
        add(
            "network",
            f"inet6 fe80::{sha(4)}:{sha(4)}:{sha(4)}:{sha(4)}/64 scope link\nether {':'.join(sha(2) for _ in range(6))}\n",
        )
        add(
            "kubectl",
            f"NAME                      READY   STATUS    RESTARTS   AGE\nweb-{sha(10)}-{pick(LOWER + DIGITS, 5)}   1/1     Running   0          {i + 2}d\n",
        )
        add(
            "timestamp",
            f"2024-06-11T10:22:{i:02d}.{R.randrange(10**6):06d}Z INFO worker {R.randrange(10**9, 8 * 10**9)}: job {sha(8)} finished in 12:03\n",
        )
        add("css", f".btn-{i} {{ color: #{sha(6)}; background: #{sha(3)}; }}\n")
    return out


def build() -> tuple[list[dict[str, object]], list[dict[str, str]]]:
    """Both corpora, from the seed (the same every time)."""
    R.seed(SEED)
    secrets = build_secrets()
    return secrets, build_lookalikes()


def main() -> None:
    secrets, lookalikes = build()
    with (HERE / "secrets.jsonl").open("w", encoding="utf-8") as f:
        for entry in secrets:
            f.write(json.dumps(entry, ensure_ascii=False) + "\n")
    with (HERE / "lookalikes.jsonl").open("w", encoding="utf-8") as f:
        for lookalike in lookalikes:
            f.write(json.dumps(lookalike, ensure_ascii=False) + "\n")
    distinct = {str(e["secret"]) for e in secrets}
    print(
        f"{len(distinct)} secrets of {len({e['kind'] for e in secrets})} kinds in {len(secrets)} texts "
        f"({len({e['context'] for e in secrets})} contexts); {len(lookalikes)} look-alikes of "
        f"{len({e['kind'] for e in lookalikes})} kinds"
    )


if __name__ == "__main__":
    main()
