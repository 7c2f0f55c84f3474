#!/usr/bin/env bash
# Any row of recipes/catalogue.yaml by its name, with every override of recipes/<row>.sh:
#   bash recipes/row.sh ROW          DRY_RUN=1 bash recipes/row.sh ROW
# (recipes/<row>.sh is this for each row of the paper; a row added to the catalogue needs no script.)
[ $# -eq 1 ] || { echo "usage: bash recipes/row.sh ROW (a row of recipes/catalogue.yaml)" >&2; exit 2; }
ROW=$1
source "$(dirname "$0")/_base.sh"
