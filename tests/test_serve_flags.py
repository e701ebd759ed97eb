"""`serve`'s command line: prometheus-adapter 0.12's flags, their defaults and the
combinations upstream refuses at start-up (exit 2, the message naming the flag).

Defaults and checks come from k8s.io/apiserver v0.30's option structs
(DelegatingAuthenticationOptions, DelegatingAuthorizationOptions,
RequestHeaderAuthenticationOptions.Validate, path.NewAuthorizer,
SecureServingOptions) and component-base/logs.AddFlags (klog's flags).
"""

from __future__ import annotations

import argparse

import pytest

from adapter import cli
from adapter.settings import fromflags

REQUIRED = ["serve", "--prometheus-url=http://127.0.0.1:9", "--config=c.yaml"]


def parse(*flags: str) -> argparse.Namespace:
    return cli.build_parser().parse_args([*REQUIRED, *flags])


def test_defaults_are_upstreams() -> None:
    settings = fromflags.serve_settings(parse())
    authn, authz = settings.authentication, settings.authorization
    assert authn.enabled and authn.anonymous and not authn.skip_lookup
    assert not authn.tolerate_lookup_failure
    assert authn.token_cache_ttl == 10.0
    assert authn.request_header.username_headers == ("x-remote-user",)
    assert authn.request_header.group_headers == ("x-remote-group",)
    assert authn.request_header.extra_headers_prefix == ("x-remote-extra-",)
    assert authn.request_header.allowed_names == ()
    assert (authz.allow_cache_ttl, authz.deny_cache_ttl) == (10.0, 10.0)
    assert authz.always_allow_paths == ("/healthz", "/readyz", "/livez")
    assert authz.always_allow_groups == ("system:masters",)


def test_values_reach_the_settings() -> None:
    settings = fromflags.serve_settings(
        parse(
            "--requestheader-allowed-names=front-proxy-client,aggregator",
            "--requestheader-username-headers=X-Remote-User",
            "--requestheader-username-headers=X-Other-User",
            "--client-ca-file=/ca.crt",
            "--requestheader-client-ca-file=/front.crt",
            "--authentication-token-webhook-cache-ttl=1m",
            "--authorization-webhook-cache-unauthorized-ttl=5s",
            "--authorization-always-allow-paths=/healthz,/metrics*",
            "--authentication-skip-lookup",
            "--anonymous-auth=false",
            "--tls-min-version=VersionTLS13",
            "--tls-cipher-suites=TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        )
    )
    header = settings.authentication.request_header
    assert header.allowed_names == ("front-proxy-client", "aggregator")
    # pflag StringSlice: the first use replaces the default, later ones add.
    assert header.username_headers == ("X-Remote-User", "X-Other-User")
    assert header.client_ca_file == "/front.crt"
    assert settings.authentication.client_ca_file == "/ca.crt"
    assert settings.authentication.token_cache_ttl == 60.0
    assert settings.authentication.skip_lookup and not settings.authentication.anonymous
    assert settings.authorization.deny_cache_ttl == 5.0
    assert settings.authorization.always_allow_paths == ("/healthz", "/metrics*")
    assert settings.serving.tls_min_version == "VersionTLS13"
    assert settings.serving.tls_cipher_suites == ("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",)


@pytest.mark.parametrize(
    "flags",
    [
        # klog and component-base/logs, as the Helm chart passes them
        ["--v=4", "--logtostderr=true"],
        ["-v", "6", "--vmodule=query*=6,discovery=2", "--log-flush-frequency=5s"],
        ["--alsologtostderr", "--log_dir=/tmp", "--log-file=/tmp/x", "--skip_headers=false"],
        ["--logging-format=json"],
        # audit and features: accepted, ignored
        ["--audit-log-path=-", "--audit-log-maxage=3", "--audit-policy-file=/p.yaml"],
        ["--audit-webhook-mode=blocking", "--audit-log-format=legacy"],
        ["--profiling=false", "--contention-profiling", "--debug-socket-path=/s"],
        # secure serving and the custom-metrics-apiserver's own
        ["--tls-sni-cert-key=/a.crt,/a.key:example.com", "--http2-max-streams-per-connection=100"],
        ["--permit-port-sharing", "--disable-http2", "--discovery-interval=10m"],
        [
            "--lister-kubeconfig=/k",
            "--authentication-kubeconfig=/a",
            "--authorization-kubeconfig=/z",
        ],
        ["--authentication-tolerate-lookup-failure=true", "--delegated-auth=false"],
        # the binary's own path, as the Helm chart's `args:` start with it
        ["/adapter"],
    ],
)
def test_upstream_flags_are_accepted(flags: list[str]) -> None:
    fromflags.serve_settings(parse(*flags))


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--tls-min-version=VersionTLS14"], "unknown tls version 'VersionTLS14'"),
        (["--tls-cipher-suites=TLS_NOPE"], "Cipher suite TLS_NOPE not supported or doesn't exist"),
        (["--vmodule=query"], "syntax error: expect comma-separated list of filename=N"),
        (["--audit-log-mode=sometimes"], "invalid choice: 'sometimes'"),
        (["--authentication-token-webhook-cache-ttl=10"], "invalid duration"),
        (["--logging-format=xml"], "invalid choice: 'xml'"),
    ],
)
def test_bad_values_exit_2_at_parse_time(
    flags: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        parse(*flags)
    assert exit_info.value.code == cli.EXIT_FLAGS
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (
            ["--requestheader-username-headers=X-Remote-User, "],
            'empty value in "requestheader-username-headers"',
        ),
        (["--requestheader-allowed-names=,"], 'empty value in "requestheader-allowed-names"'),
        (["--authorization-always-allow-paths=/he*lthz"], 'only trailing * allowed in "/he*lthz"'),
        (["--secure-port=70000"], "--secure-port 70000 must be between 0 and 65535"),
        (["--bind-address=localhost"], 'failed to parse IP: "localhost"'),
    ],
)
def test_combinations_upstream_refuses_exit_2(
    flags: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main([*REQUIRED, *flags]) == cli.EXIT_FLAGS
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err
