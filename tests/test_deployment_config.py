"""What a deployment gets from the files it is built from: the compose stack, the image, the settings'
defaults. Each test reads the real file or starts the real settings in a process of its own."""

import base64
import os
import shutil
import subprocess
import sys

import pytest
import yaml

from tests.conftest import ROOT

PRODUCTION_ENV = {
    "DJANGO_SETTINGS_MODULE": "palimpsest.settings_production",
    "SECRET_KEY": "x7!k2Jq9#vL0mR4pT8wZ1cF6bN3hY5sD-production-test-key-long-enough",
    "PALIMPSEST_PEPPER": "a-pepper-for-the-production-settings-test",
    "PALIMPSEST_AUDIT_KEY": "an-audit-key-for-the-production-settings-test",
    # base64 of 32 bytes: a well-formed Ed25519 seed.
    "PALIMPSEST_SIGNING_KEY": base64.b64encode(bytes(range(32))).decode(),
}


COMPOSE_SECRETS = {
    "SECRET_KEY": "compose-config-check",
    "PALIMPSEST_PEPPER": "compose-pepper",
    "PALIMPSEST_AUDIT_KEY": "compose-audit-key",
    "PALIMPSEST_SIGNING_KEY": base64.b64encode(bytes(range(32))).decode(),
}


def clean_env(**env: str) -> dict[str, str]:
    """The test's environment without the settings a deployment chooses, plus `env`."""
    chosen = {"DEBUG", "SECRET_KEY", "DJANGO_SETTINGS_MODULE", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    base = {k: v for k, v in os.environ.items() if k not in chosen and not k.startswith("PALIMPSEST_")}
    return {**base, **env}


def settings_value(expression: str, **env: str) -> subprocess.CompletedProcess:
    """Evaluate `expression` over django.conf.settings in a fresh process with `env`."""
    code = f"import django; django.setup(); from django.conf import settings; print(repr({expression}))"
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=clean_env(**env),
        capture_output=True,
        text=True,
        timeout=120,
    )


def compose_config(*files: str, **env: str) -> dict:
    compose = shutil.which("docker-compose")
    assert compose, "docker-compose is missing: `make test` installs it (Debian package docker-compose)"
    args = [compose]
    for name in files:
        args += ["-f", name]
    result = subprocess.run(
        [*args, "config"],
        cwd=ROOT,
        env={**os.environ, **COMPOSE_SECRETS, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


def test_production_compose_sends_mail_by_smtp_from_the_environment_and_publishes_no_mail_catcher():
    # Given the production stack, configured with a real SMTP relay
    config = compose_config(
        "docker-compose.yml", EMAIL_HOST="smtp.example.org", EMAIL_PORT="587", EMAIL_USE_TLS="true"
    )
    services = config["services"]
    # Then no service runs a mail catcher (whose page shows every code and status link)
    images = {name: service.get("image", "") for name, service in services.items()}
    assert not any("mailpit" in image or "mailhog" in image for image in images.values()), images
    # and the web and worker processes send through the relay the environment names
    for name in ("web", "worker-cpu", "beat"):
        env = services[name]["environment"]
        assert env["EMAIL_HOST"] == "smtp.example.org" and str(env["EMAIL_PORT"]) == "587", name
        assert str(env["EMAIL_USE_TLS"]) == "true"


def test_the_mail_catcher_of_the_development_override_listens_on_loopback_only():
    config = compose_config("docker-compose.yml", "docker-compose.dev.yml")
    catcher = config["services"]["mailcatcher"]
    ports = catcher.get("ports", [])
    assert ports, "the development override publishes the catcher's page"
    # (docker-compose writes a port either as "host_ip:published:target" or as a mapping)
    hosts = [port.split(":")[0] if isinstance(port, str) else port.get("host_ip") for port in ports]
    assert hosts == ["127.0.0.1"] * len(ports), ports
    assert config["services"]["web"]["environment"]["EMAIL_HOST"] == "mailcatcher"


@pytest.mark.parametrize("variable", ["PALIMPSEST_TRUSTED_PROXY_COUNT", "PALIMPSEST_TLS_PROXY_HEADER"])
def test_proxy_settings_reach_the_containers_from_the_environment(variable):
    # Given a deployment behind one TLS proxy that sets the variable in the host's environment
    value = "2" if variable == "PALIMPSEST_TRUSTED_PROXY_COUNT" else "X-Forwarded-Proto"
    config = compose_config("docker-compose.yml", **{variable: value})
    # Then every process of the stack sees it
    for name in ("web", "worker-cpu", "beat"):
        assert str(config["services"][name]["environment"].get(variable)) == value, name


def test_the_tls_proxy_header_is_trusted_only_when_a_deployment_names_it():
    # Given the settings without a proxy: a client's own X-Forwarded-Proto must not make it "secure"
    plain = settings_value("settings.SECURE_PROXY_SSL_HEADER", **PRODUCTION_ENV)
    assert plain.returncode == 0, plain.stderr
    assert plain.stdout.strip() == "None"
    # And with the proxy's header named in the environment
    behind = settings_value(
        "(settings.SECURE_PROXY_SSL_HEADER, settings.PALIMPSEST_TRUSTED_PROXY_COUNT)",
        PALIMPSEST_TLS_PROXY_HEADER="X-Forwarded-Proto",
        PALIMPSEST_TRUSTED_PROXY_COUNT="1",
        **PRODUCTION_ENV,
    )
    assert behind.stdout.strip() == "(('HTTP_X_FORWARDED_PROTO', 'https'), 1)", behind.stderr


def test_debug_is_off_unless_turned_on_and_then_a_secret_key_is_required():
    # Given the base settings and an environment that says nothing about DEBUG or SECRET_KEY
    result = settings_value("settings.DEBUG", DJANGO_SETTINGS_MODULE="palimpsest.settings")
    # Then they refuse to start instead of signing status tokens with the key in the source
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr
    # And with a key (and the other secrets), DEBUG is off
    keyed = settings_value(
        "settings.DEBUG", **{**PRODUCTION_ENV, "DJANGO_SETTINGS_MODULE": "palimpsest.settings"}
    )
    assert keyed.stdout.strip() == "False", keyed.stderr
    # And the embedded mode turns it on explicitly
    embedded = settings_value("settings.DEBUG", DJANGO_SETTINGS_MODULE="palimpsest.settings_dev")
    assert embedded.stdout.strip() == "True", embedded.stderr


@pytest.mark.parametrize(
    "missing", ["SECRET_KEY", "PALIMPSEST_PEPPER", "PALIMPSEST_AUDIT_KEY", "PALIMPSEST_SIGNING_KEY"]
)
def test_production_settings_refuse_to_start_without_each_secret(missing):
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != missing}
    result = settings_value("settings.DEBUG", **env)
    assert result.returncode != 0
    assert f"{missing} must be set" in result.stderr


def test_the_image_runs_the_production_settings():
    # Given the Dockerfile, the settings module its processes run with
    instructions = (ROOT / "Dockerfile").read_text(encoding="utf-8").replace("\\\n", " ").splitlines()
    env_lines = " ".join(line for line in instructions if line.startswith("ENV "))
    assert "DJANGO_SETTINGS_MODULE=palimpsest.settings_production" in env_lines.split()
    # and the demo's script turns the embedded mode on explicitly
    demo = (ROOT / "scripts" / "run-demo.sh").read_text(encoding="utf-8")
    assert "palimpsest.settings_dev" in demo
