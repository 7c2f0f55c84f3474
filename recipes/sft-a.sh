#!/usr/bin/env bash
# Row sft-a of the paper's tables: what makes it that row is its entry in recipes/catalogue.yaml.
ROW=sft-a
source "$(dirname "$0")/_base.sh"
