"""keras-tuner's side of a search: the objective, the tuners (a line a trial), the role in a distributed search."""

from __future__ import annotations

import os

import keras_tuner as kt

from .hypermodel import SearchError
from .presets import TUNER_NAMES


OBJECTIVE = "val_fid"


TUNERS = dict(zip(TUNER_NAMES, (kt.RandomSearch, kt.BayesianOptimization, kt.Hyperband)))


def _progress_tuner(base: type) -> type:
    """``base`` (a keras-tuner class) printing one line per finished trial."""

    class Tuner(base):
        log = staticmethod(print)
        trained_here = 0
        _figures: dict = {}

        def run_trial(self, trial, *args, **kwargs):
            self._figures = {}
            results = super().run_trial(trial, *args, **kwargs)
            # A worker's trial object never receives its metrics (the chief's
            # oracle keeps them), so the line below reads what fit returned.
            self._figures = results[-1] if isinstance(results, list) and results else results
            return results

        def on_trial_end(self, trial):
            super().on_trial_end(trial)
            self.trained_here += 1
            hp = trial.hyperparameters.values
            f = self._figures if isinstance(self._figures, dict) else {}
            figures = (
                f"val_fid {f['val_fid']:.2f}, score {f['val_score']:.2f}, "
                f"entropy {f['val_class_entropy']:.2f} in {f['seconds']:.0f} s"
                if "val_fid" in f
                else str(trial.status).lower()
            )
            self.log(
                f"trial {trial.trial_id}: lr_D {hp['lr_d']:.2e}, lr_G {hp['lr_d'] * hp['ratio']:.2e} "
                f"(ratio {hp['ratio']:.2f}) -> {figures}"
            )

    Tuner.__name__ = base.__name__
    return Tuner


def _distributed_role() -> str:
    """ "" alone; "chief" or "worker ID" in keras-tuner's distributed mode, read
    from the variables keras-tuner reads: KERASTUNER_ORACLE_IP and _PORT (the
    chief's oracle) and KERASTUNER_TUNER_ID (an ID holding "chief" serves
    the oracle)."""
    if "KERASTUNER_ORACLE_IP" not in os.environ:
        return ""
    missing = [k for k in ("KERASTUNER_ORACLE_PORT", "KERASTUNER_TUNER_ID") if k not in os.environ]
    if missing:
        raise SearchError(
            f"KERASTUNER_ORACLE_IP is set but {' and '.join(missing)} not: a distributed search needs all three."
        )
    tuner_id = os.environ["KERASTUNER_TUNER_ID"]
    return "chief" if "chief" in tuner_id else f"worker {tuner_id}"


def _make_tuner(tuner, hypermodel, directory, project_name, overwrite, max_trials, hyperband_epochs, seed):
    common = dict(
        objective=kt.Objective(OBJECTIVE, "min"),
        directory=directory,
        project_name=project_name,
        overwrite=overwrite,
        seed=seed,
    )
    if tuner == "hyperband":
        return _progress_tuner(kt.Hyperband)(hypermodel, max_epochs=hyperband_epochs, factor=3, **common)
    return _progress_tuner(TUNERS[tuner])(hypermodel, max_trials=max_trials, **common)
