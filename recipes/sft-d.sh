#!/usr/bin/env bash
# Row sft-d of the paper's tables: what makes it that row is its entry in recipes/catalogue.yaml.
ROW=sft-d
source "$(dirname "$0")/_base.sh"
