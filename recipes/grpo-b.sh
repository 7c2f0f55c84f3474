#!/usr/bin/env bash
# Row grpo-b of the paper's tables: what makes it that row is its entry in recipes/catalogue.yaml.
ROW=grpo-b
source "$(dirname "$0")/_base.sh"
