"""The experiments: the catalogue of results rows and tables (``catalogue.yaml``, read by :mod:`recipes.catalogue`)
and the launcher that runs a row or a table through ms-swift (:mod:`recipes.launch`). The row scripts beside
this file hand their row to ``python -m recipes.launch``. ms-swift never loads this package: what it loads is
``swift_plugins`` (docs/layout.md)."""
