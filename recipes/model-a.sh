#!/usr/bin/env bash
# Row model-a of the paper's tables: what makes it that row is its entry in recipes/catalogue.yaml.
ROW=model-a
source "$(dirname "$0")/_base.sh"
