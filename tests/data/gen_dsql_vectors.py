#!/usr/bin/env python3
"""Generate reference Aurora DSQL auth tokens with botocore.

Writes dsql_vectors.json next to this script. Every token is produced by
botocore's own ``dsql`` client, ``generate_db_connect_auth_token`` or
``generate_db_connect_admin_auth_token``, with static credentials and a frozen
clock (the same isolation and clock as gen_botocore_vectors.py, imported from
it), so the output is byte-for-byte reproducible for a given botocore version.

Usage:
    pip install botocore
    python3 tests/data/gen_dsql_vectors.py           # (re)write the JSON
    python3 tests/data/gen_dsql_vectors.py --check   # compare, don't write
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

# Importing it first unsets AWS_* and points the AWS files at /dev/null.
import gen_botocore_vectors as base  # noqa: E402

import botocore.session  # noqa: E402

OUT = os.path.join(base.HERE, "dsql_vectors.json")
T = base.DEFAULT_TIME
TOKEN = base.SESSION_TOKEN
USE1 = "abcdefghijklmnopqrstuvwxyz.dsql.us-east-1.on.aws"

# (name, host, action, region, session_token, signed_at, expires_in)
CASES = [
    ("connect_basic", USE1, "DbConnect", "us-east-1", None, T, 900),
    ("admin_basic", USE1, "DbConnectAdmin", "us-east-1", None, T, 900),
    ("connect_session_token", USE1, "DbConnect", "us-east-1", TOKEN, T, 900),
    ("admin_session_token", USE1, "DbConnectAdmin", "us-east-1", TOKEN, T, 900),
    ("admin_eu_west_1", "s4abtwoqgjtpkqzkbtuyzcbxsu.dsql.eu-west-1.on.aws", "DbConnectAdmin", "eu-west-1", None, T, 900),
    ("connect_us_west_2_token", "iaabt2ydjohxwlwj6j6oaw5lna.dsql.us-west-2.on.aws", "DbConnect", "us-west-2", TOKEN, "2024-02-29T23:59:59Z", 900),
    ("connect_ap_northeast_1", "4iabtwoqgjtpkqzkbtuyzcbxsu.dsql.ap-northeast-1.on.aws", "DbConnect", "ap-northeast-1", None, T, 900),
    ("admin_lifetime_3600", USE1, "DbConnectAdmin", "us-east-1", None, T, 3600),
    ("connect_lifetime_week_token", USE1, "DbConnect", "us-east-1", TOKEN, T, 604800),
    ("connect_lifetime_60", USE1, "DbConnect", "us-east-1", None, T, 60),
    ("admin_host_uppercase", "ABCDEFGHIJKLMNOPQRSTUVWXYZ.DSQL.US-EAST-1.ON.AWS", "DbConnectAdmin", "us-east-1", None, T, 900),
    ("connect_localhost", "localhost", "DbConnect", "us-east-1", None, T, 900),
]


def make_token(host, action, region, session_token, signed_at, expires_in):
    session = botocore.session.get_session()
    session.set_credentials(base.ACCESS_KEY_ID, base.SECRET_ACCESS_KEY, session_token)
    client = session.create_client("dsql", region_name=region)
    generate = {
        "DbConnect": client.generate_db_connect_auth_token,
        "DbConnectAdmin": client.generate_db_connect_admin_auth_token,
    }[action]
    with base.frozen_clock(base.parse_rfc3339_utc(signed_at)):
        token = generate(Hostname=host, Region=region, ExpiresIn=expires_in)
    amz_date = base.parse_rfc3339_utc(signed_at).strftime("%Y%m%dT%H%M%SZ")
    assert f"&X-Amz-Date={amz_date}&" in token, (signed_at, token)
    assert token.startswith(f"{host}/?Action={action}&X-Amz-Algorithm="), token
    assert f"&X-Amz-Expires={expires_in}&" in token, token
    assert "%2Fdsql%2Faws4_request" in token, token
    assert ("X-Amz-Security-Token=" in token) == (session_token is not None)
    assert "://" not in token
    return token


def generate():
    vectors = []
    for name, host, action, region, session_token, signed_at, expires_in in CASES:
        vectors.append(
            {
                "name": name,
                "host": host,
                "action": action,
                "region": region,
                "expires_in": expires_in,
                "access_key_id": base.ACCESS_KEY_ID,
                "secret_access_key": base.SECRET_ACCESS_KEY,
                "session_token": session_token,
                "signed_at": signed_at,
                "token": make_token(host, action, region, session_token, signed_at, expires_in),
            }
        )
    names = [v["name"] for v in vectors]
    assert len(names) == len(set(names)), "duplicate case names"
    return vectors


def main(argv):
    return base.write_or_check(generate, OUT, argv)

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
