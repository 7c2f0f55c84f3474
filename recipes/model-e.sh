#!/usr/bin/env bash
# Row model-e of the paper's tables: what makes it that row is its entry in recipes/catalogue.yaml.
ROW=model-e
source "$(dirname "$0")/_base.sh"
