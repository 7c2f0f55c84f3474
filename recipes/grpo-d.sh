#!/usr/bin/env bash
# Row grpo-d of the paper's tables: what makes it that row is its entry in recipes/catalogue.yaml.
ROW=grpo-d
source "$(dirname "$0")/_base.sh"
