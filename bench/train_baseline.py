"""Baseline side of `pnpm bench:train`: pandas read_csv + scikit-learn fit + predict, timed in steps.

Usage: train_baseline.py <logistic|boosted-trees|linear> <csv> <predictions-out>

Reads the CSV (features f0..fN, then `label`), trains on the first 80 % of the rows, predicts the last
20 % and writes those predictions as raw little-endian float64 to <predictions-out>, so the JS side
scores both implementations with one metric implementation. Prints one JSON line: the step times and
the thread pools scikit-learn used.
"""
import json
import sys
import time

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.metrics import mean_squared_error, roc_auc_score
from threadpoolctl import threadpool_info

HOLDOUT = 0.2


def main() -> None:
    task, csv_path, out_path = sys.argv[1], sys.argv[2], sys.argv[3]

    t0 = time.perf_counter()
    frame = pd.read_csv(csv_path)
    y = frame.pop("label").to_numpy(dtype=np.float64)
    x = frame.to_numpy(dtype=np.float64)
    train_rows = x.shape[0] - int(round(x.shape[0] * HOLDOUT))
    x_train, y_train, x_test, y_test = x[:train_rows], y[:train_rows], x[train_rows:], y[train_rows:]
    t1 = time.perf_counter()

    if task == "logistic":
        # Ours minimises Σ logloss + l2/2·‖w‖² with l2 = 1 (intercept free): C = 1 / l2.
        model = LogisticRegression(C=1.0, tol=1e-7, max_iter=100_000, solver="lbfgs")
    elif task == "boosted-trees":
        model = HistGradientBoostingClassifier(
            max_iter=100,
            max_leaf_nodes=31,
            learning_rate=0.1,
            max_bins=255,
            min_samples_leaf=20,
            early_stopping=False,
            l2_regularization=0.0,
            random_state=1,
        )
    elif task == "linear":
        model = LinearRegression()
    else:
        raise SystemExit(f"unknown task {task}")
    model.fit(x_train, y_train)
    t2 = time.perf_counter()

    if task == "linear":
        predictions = model.predict(x_test)
        metric = float(np.sqrt(mean_squared_error(y_test, predictions)))
    else:
        predictions = model.predict_proba(x_test)[:, 1]
        metric = float(roc_auc_score(y_test, predictions))
    t3 = time.perf_counter()

    np.ascontiguousarray(predictions, dtype="<f8").tofile(out_path)
    pools = [{"api": p["internal_api"], "threads": p["num_threads"]} for p in threadpool_info()]
    print(
        json.dumps(
            {
                "read_s": t1 - t0,
                "fit_s": t2 - t1,
                "evaluate_s": t3 - t2,
                "metric": metric,
                "iterations": int(np.max(getattr(model, "n_iter_", [0]))),
                "thread_pools": pools,
                "sklearn": __import__("sklearn").__version__,
            }
        )
    )


if __name__ == "__main__":
    main()
