#!/usr/bin/env bash
# Row sft-b of the paper's tables: what makes it that row is its entry in recipes/catalogue.yaml.
ROW=sft-b
source "$(dirname "$0")/_base.sh"
