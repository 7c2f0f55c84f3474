#!/usr/bin/env bash
# Row model-b of the paper's tables: what makes it that row is its entry in recipes/catalogue.yaml.
ROW=model-b
source "$(dirname "$0")/_base.sh"
