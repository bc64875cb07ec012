"""Import xgboost without the scikit-learn wrapper that `import xgboost` loads whenever sklearn is installed.

xgboost defines XGBClassifier & co. on top of scikit-learn when it finds it, and scikit-learn brings
pandas: about 0.8 s and 130 MiB resident per process that this code never uses (it trains with
`xgb.train` and predicts through the Booster). The AWS XGBoost image ships scikit-learn, so in
script mode every training job, evaluation job and model-server worker paid for it; our own image
does not install it, so there this changes nothing.

Entry points import this module before anything imports xgboost (train.py, evaluate.py,
serving_model.py for each server worker). It hides sklearn for the one import of xgboost
(`sys.modules[name] = None` makes `import name` raise ModuleNotFoundError, which xgboost treats
as "not installed") and then un-hides it, so a later `import sklearn` elsewhere still works.
Importing it after xgboost or sklearn is already loaded does nothing.
"""
from __future__ import annotations

import sys

HIDDEN_DURING_IMPORT = ("sklearn",)


def import_xgboost_without_sklearn() -> None:
    if "xgboost" in sys.modules or any(name in sys.modules for name in HIDDEN_DURING_IMPORT):
        return
    for name in HIDDEN_DURING_IMPORT:
        sys.modules[name] = None  # type: ignore[assignment]
    try:
        import xgboost  # noqa: F401
    finally:
        for name in HIDDEN_DURING_IMPORT:
            del sys.modules[name]


import_xgboost_without_sklearn()
