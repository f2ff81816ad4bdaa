#!/usr/bin/env bash
# The main job: compile a model for the simulated TT-NN device, run it, print its metrics.
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
exec python -m torch_ttnn.demo "$@"
