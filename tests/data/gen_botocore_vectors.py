#!/usr/bin/env python3
"""Generate reference RDS IAM auth tokens with botocore.

Writes botocore_vectors.json next to this script.  Every token is produced by
botocore's own ``rds`` client ``generate_db_auth_token`` with static
credentials and a frozen clock, so the output is byte-for-byte reproducible
for a given botocore version.

Usage:
    pip install botocore
    python3 tests/data/gen_botocore_vectors.py           # (re)write the JSON
    python3 tests/data/gen_botocore_vectors.py --check   # compare, don't write

No network access is made: credentials are set directly on the session and
generate_db_auth_token only signs locally.
"""

import os
import sys

# --- Isolate from any real AWS configuration before botocore is imported. ---
for _k in list(os.environ):
    if _k.startswith("AWS_"):
        del os.environ[_k]
os.environ["AWS_CONFIG_FILE"] = "/dev/null"
os.environ["AWS_SHARED_CREDENTIALS_FILE"] = "/dev/null"
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"

import contextlib  # noqa: E402
import datetime  # noqa: E402
import json  # noqa: E402
import types  # noqa: E402
from unittest import mock  # noqa: E402

import botocore  # noqa: E402
import botocore.auth  # noqa: E402
import botocore.compat  # noqa: E402
import botocore.session  # noqa: E402
import botocore.signers  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "botocore_vectors.json")

# AWS documentation example credentials (not real secrets).
ACCESS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"
SECRET_ACCESS_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
# Fake STS-style session token: 344 chars, contains '/', '+' and '=' so that
# percent-encoding of X-Amz-Security-Token is exercised.
SESSION_TOKEN = (
    "IQoJb3JpZ2luX2VjEXAMPLE/FfzRk92PIgn4Tz0JIbLK9qzC8Q+S7nhjxpE4lX0Wrj1ZYwvo"
    "8w+PcIa8i5HfJb86Tv40R3/X8gD9twrpKsyM41McXvOmnncO+g9JxvpduPXPuWdoeJFRb3BC"
    "RzhzpOnNVxuTaUr8h6j+agP8Ibk+XzJ9z4IsAUVILCaXbiuFDrzw01igzrCYeuYLWVANGWJX"
    "sP3q7FSNLJ0v92MBub0MWaIhPxfUvalvp9GgUivMWsvstdzk2q4s0AfPyKflP6csoNttIwDC"
    "UYZk3cCw4S0RgxNNaDztfj3EoMjryBQ21rTrcece7sxbb+DHYbHTGQ=="
)
assert len(SESSION_TOKEN) >= 300
assert all(c in SESSION_TOKEN for c in "/+=")

DEFAULT_TIME = "2026-11-25T12:00:00Z"
PG_HOST = "prod.cluster-abc123.us-east-1.rds.amazonaws.com"

# (name, host, port, user, region, session_token, signed_at)
CASES = [
    ("postgres_basic", PG_HOST, 5432, "jane_doe", "us-east-1", None, DEFAULT_TIME),
    ("postgres_session_token", PG_HOST, 5432, "jane_doe", "us-east-1", SESSION_TOKEN, DEFAULT_TIME),
    ("user_email", PG_HOST, 5432, "jane.doe@example.com", "us-east-1", None, DEFAULT_TIME),
    ("user_plus", PG_HOST, 5432, "a+b", "us-east-1", None, DEFAULT_TIME),
    ("user_space", PG_HOST, 5432, "john smith", "us-east-1", None, DEFAULT_TIME),
    ("user_apostrophe", PG_HOST, 5432, "o'brien", "us-east-1", None, DEFAULT_TIME),
    ("user_tilde", PG_HOST, 5432, "user~1", "us-east-1", None, DEFAULT_TIME),
    ("user_non_ascii", PG_HOST, 5432, "j\u00fcrgen", "us-east-1", None, DEFAULT_TIME),
    ("user_reserved_chars_with_token", PG_HOST, 5432, "a/b:c=d&e?f#g%h*!()", "us-east-1", SESSION_TOKEN, DEFAULT_TIME),
    ("host_uppercase", "PROD.Cluster-ABC123.US-EAST-1.rds.amazonaws.com", 5432, "jane_doe", "us-east-1", None, DEFAULT_TIME),
    ("port_15432", PG_HOST, 15432, "jane_doe", "us-east-1", None, DEFAULT_TIME),
    ("mysql_3306", "mydb.abc123xyz.us-east-1.rds.amazonaws.com", 3306, "admin_user", "us-east-1", None, DEFAULT_TIME),
    ("port_443", PG_HOST, 443, "jane_doe", "us-east-1", None, DEFAULT_TIME),
    ("rds_proxy_eu_west_1", "myproxy.proxy-abc123.eu-west-1.rds.amazonaws.com", 5432, "jane_doe", "eu-west-1", None, DEFAULT_TIME),
    ("localhost_us_west_2", "localhost", 5432, "jane_doe", "us-west-2", None, DEFAULT_TIME),
    ("signed_at_leap_day", PG_HOST, 5432, "jane_doe", "us-east-1", None, "2024-02-29T23:59:59Z"),
    ("china_cn_north_1", "db.abc.cn-north-1.rds.amazonaws.com.cn", 5432, "jane_doe", "cn-north-1", None, DEFAULT_TIME),
    # An IPv6 literal as the AWS CLI takes it: in brackets (a bare `::1` is refused there).
    ("host_ipv6_loopback", "[::1]", 5432, "jane_doe", "us-east-1", None, DEFAULT_TIME),
    ("host_ipv6_with_token", "[2001:DB8::1]", 3306, "jane_doe", "eu-west-1", SESSION_TOKEN, DEFAULT_TIME),
    ("china_cn_north_1_session_token", "db.abc.cn-north-1.rds.amazonaws.com.cn", 3306, "j\u00fcrgen", "cn-north-1", SESSION_TOKEN, "2024-02-29T23:59:59Z"),
]


def parse_rfc3339_utc(s):
    assert s.endswith("Z"), s
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=datetime.timezone.utc
    )


@contextlib.contextmanager
def frozen_clock(aware_utc):
    """Freeze the clock botocore's SigV4QueryAuth reads.

    botocore >= 1.33-ish: auth.py does ``from botocore.compat import
    get_current_datetime`` and calls ``get_current_datetime()`` (which is
    ``datetime.datetime.now(datetime.timezone.utc)`` with tzinfo stripped).
    We patch that name in every module that imported it.

    Older botocore: auth.py calls ``datetime.datetime.utcnow()`` directly, so
    we swap ``botocore.auth.datetime`` for a shim module whose ``datetime``
    class returns the frozen time from ``utcnow()``/``now()``.

    Either way, the caller verifies X-Amz-Date in the token afterwards.
    """
    naive = aware_utc.replace(tzinfo=None)

    def fake_get_current_datetime(remove_tzinfo=True):
        return naive if remove_tzinfo else aware_utc

    with contextlib.ExitStack() as stack:
        if hasattr(botocore.compat, "get_current_datetime"):
            for mod in (botocore.compat, botocore.auth, botocore.signers):
                if hasattr(mod, "get_current_datetime"):
                    stack.enter_context(
                        mock.patch.object(
                            mod, "get_current_datetime", fake_get_current_datetime
                        )
                    )
        else:

            class FrozenDatetime(datetime.datetime):
                @classmethod
                def utcnow(cls):
                    return naive

                @classmethod
                def now(cls, tz=None):
                    return naive if tz is None else aware_utc.astimezone(tz)

            shim = types.ModuleType("datetime")
            shim.__dict__.update(datetime.__dict__)
            shim.datetime = FrozenDatetime
            stack.enter_context(mock.patch.object(botocore.auth, "datetime", shim))
        yield


def make_token(host, port, user, region, session_token, signed_at):
    session = botocore.session.get_session()
    session.set_credentials(ACCESS_KEY_ID, SECRET_ACCESS_KEY, session_token)
    client = session.create_client("rds", region_name=region)
    with frozen_clock(parse_rfc3339_utc(signed_at)):
        token = client.generate_db_auth_token(
            DBHostname=host, Port=port, DBUsername=user, Region=region
        )
    # Sanity checks: clock really frozen, shape as expected.
    amz_date = parse_rfc3339_utc(signed_at).strftime("%Y%m%dT%H%M%SZ")
    assert f"&X-Amz-Date={amz_date}&" in token, (signed_at, token)
    assert token.startswith(f"{host}:{port}/?Action=connect&DBUser="), token
    assert "&X-Amz-Algorithm=AWS4-HMAC-SHA256&" in token, token
    assert "&X-Amz-Expires=900&" in token, token
    assert ("X-Amz-Security-Token=" in token) == (session_token is not None)
    assert "://" not in token
    return token


def generate():
    vectors = []
    for name, host, port, user, region, session_token, signed_at in CASES:
        vectors.append(
            {
                "name": name,
                "host": host,
                "port": port,
                "user": user,
                "region": region,
                "access_key_id": ACCESS_KEY_ID,
                "secret_access_key": SECRET_ACCESS_KEY,
                "session_token": session_token,
                "signed_at": signed_at,
                "token": make_token(host, port, user, region, session_token, signed_at),
            }
        )
    names = [v["name"] for v in vectors]
    assert len(names) == len(set(names)), "duplicate case names"
    return vectors


def render(vectors):
    return json.dumps(vectors, indent=2, ensure_ascii=False) + "\n"


def write_or_check(generate, out, argv):
    """Generates twice (it must not vary), then writes `out`, or with --check compares it."""
    first = render(generate())
    second = render(generate())
    assert first == second, "generation is not deterministic"

    if "--check" in argv:
        with open(out, encoding="utf-8") as f:
            on_disk = f.read()
        if on_disk != first:
            print(f"MISMATCH: {out} differs from botocore {botocore.__version__}")
            return 1
        print(f"OK: {out} matches botocore {botocore.__version__}")
        return 0

    with open(out, "w", encoding="utf-8", newline="\n") as f:
        f.write(first)
    print(f"wrote {len(json.loads(first))} vectors to {out} (botocore {botocore.__version__})")
    return 0


def main(argv):
    return write_or_check(generate, OUT, argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
