#!/usr/bin/env bash
# The fast test suite (what CI runs). Extra arguments go to pytest.
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
exec python -m pytest -q -n 2 -p no:cacheprovider -m "not zoo and not slow" "$@" tests
