"""Objectives of the peer benchmark.

Every problem has a search space (a list of Param), a goal (maximize or
minimize), and evaluate(params, seed) -> (score, cost, curve). `curve` is a
list of (fraction_of_run, score, cost) points for objectives that have a
training curve (PufferLib's loop observes it), else None.

The space is written once here and translated for each optimizer: protein's
sweep YAML, Optuna distributions, PufferLib's sweep config, random search.
Nothing here was tuned against any optimizer: the constants were written
before the first benchmark run (see benchset.py for the fixed set).
"""
import math
import time


class Param:
    """One search dimension. kind: float, log, int, pow2, cat."""

    def __init__(self, name, kind, low=None, high=None, choices=None):
        self.name, self.kind = name, kind
        self.low, self.high, self.choices = low, high, choices

    def typed(self, v):
        """v as this parameter's evaluate() takes it (an int for int and
        pow2, a float for float and log, a categorical's choice as it is),
        from what JSON or an optimizer hands over."""
        if self.kind in ("int", "pow2"):
            return int(v)
        if self.kind in ("float", "log"):
            return float(v)
        return v


class Problem:
    name = ""
    family = ""
    goal = "maximize"
    cost_aware = False      # reports a cost that varies with the params
    has_curve = False
    cost_axis = None        # the parameter that buys score with cost, if any
    optimum = None          # best possible score when known (for regret)

    def space(self):
        raise NotImplementedError

    def evaluate(self, params, seed):
        raise NotImplementedError


# ---------------------------------------------------------------- RL-shaped

class RLShaped(Problem):
    """A PPO-like run: optimizer choice, learning rate whose best value depends
    on the optimizer and on the batch size, discount, batch size (power of
    two), entropy coefficient, and total timesteps, which buys score and costs
    time. Score in [0, 100], maximize; cost is deterministic simulated
    minutes, proportional to timesteps and cheaper per step at large batch."""

    name, family, goal = "rl", "rl", "maximize"
    cost_aware, has_curve, cost_axis = True, True, "total_timesteps"
    optimum = 100.0  # the supremum: adam at its best settings, 1e8 steps gives 99.99997
    LR_BEST = {"adam": 3e-4, "rmsprop": 1.5e-3, "sgd": 4e-2}
    CAP = {"adam": 1.0, "rmsprop": 0.93, "sgd": 0.84}

    def space(self):
        return [
            Param("optimizer", "cat", choices=["sgd", "adam", "rmsprop"]),
            Param("learning_rate", "log", 1e-5, 1.0),
            Param("gamma", "float", 0.9, 0.9999),
            Param("batch_size", "pow2", 64, 8192),
            Param("ent_coef", "log", 1e-5, 0.1),
            Param("total_timesteps", "log", 1e5, 1e8),
        ]

    def quality(self, p):
        opt = p["optimizer"]
        batch = float(p["batch_size"])
        lr_best = math.log10(self.LR_BEST[opt]) + 0.5 * math.log10(batch / 512.0)
        lr_term = math.exp(-0.5 * ((math.log10(p["learning_rate"]) - lr_best) / 0.35) ** 2)
        one_minus_g = max(1.0 - p["gamma"], 1e-6)
        g_term = math.exp(-0.5 * ((math.log(one_minus_g) - math.log(0.012)) / 0.9) ** 2)
        b_term = math.exp(-0.5 * (math.log2(batch / 512.0) / 2.2) ** 2)
        e_term = max(0.0, 1.0 - 0.06 * (math.log10(p["ent_coef"]) + 2.5) ** 2)
        return (self.CAP[opt] * (0.1 + 0.9 * lr_term) * (0.45 + 0.55 * g_term)
                * (0.6 + 0.4 * b_term) * (0.7 + 0.3 * e_term))

    def score_at(self, q, steps):
        # better configurations also learn faster
        horizon = 4e6 / (0.3 + q)
        return 100.0 * q * (1.0 - math.exp(-steps / horizon))

    def cost_at(self, p, steps):
        per_step = 0.55 + 0.45 * math.sqrt(512.0 / float(p["batch_size"]))
        return steps / 1e6 * per_step * (1.15 if p["optimizer"] == "adam" else 1.0)

    def evaluate(self, p, seed):
        q = self.quality(p)
        steps = p["total_timesteps"]
        curve = [(f, self.score_at(q, f * steps), self.cost_at(p, f * steps))
                 for f in (0.1, 0.25, 0.5, 0.75, 1.0)]
        return curve[-1][1], curve[-1][2], curve


# ---------------------------------------------------------------- mixed

class Mixed(Problem):
    """Mixed integer/categorical space, minimize, optimum 0: a rotated,
    badly scaled valley in three floats whose centre moves with a
    categorical, two integers (one wide, one coupled to a categorical), and a
    categorical that switches a penalty on. Constant cost."""

    name, family, goal, optimum = "mixed", "mixed", "minimize", 0.0
    SHIFT = {"relu": (1.0, -2.0, 0.5), "tanh": (-1.5, 1.0, 2.0),
             "gelu": (0.0, 3.0, -1.0), "silu": (2.5, 0.5, -3.0)}

    def space(self):
        return [
            Param("x1", "float", -5.0, 5.0),
            Param("x2", "float", -5.0, 5.0),
            Param("x3", "float", -5.0, 5.0),
            Param("layers", "int", 1, 12),
            Param("width", "int", 8, 512),
            Param("activation", "cat", choices=["relu", "tanh", "gelu", "silu"]),
            Param("norm", "cat", choices=["none", "batch", "layer"]),
        ]

    def evaluate(self, p, seed):
        s = self.SHIFT[p["activation"]]
        d = [p["x1"] - s[0], p["x2"] - s[1], p["x3"] - s[2]]
        # rotation mixing x1/x2, ill-conditioned axes
        u = (d[0] + d[1]) / math.sqrt(2.0)
        v = (d[0] - d[1]) / math.sqrt(2.0)
        valley = u * u + 10.0 * v * v + 3.0 * d[2] * d[2]
        best_layers = {"none": 3, "batch": 7, "layer": 5}[p["norm"]]
        layers_pen = 4.0 * (int(p["layers"]) - best_layers) ** 2
        width_pen = 6.0 * (math.log2(float(p["width"])) - math.log2(96.0)) ** 2
        act_pen = {"relu": 2.0, "tanh": 6.0, "gelu": 0.0, "silu": 1.0}[p["activation"]]
        return valley + layers_pen + width_pen + act_pen, 1.0, None


# ---------------------------------------------------------------- BBOB

class BBOB(Problem):
    """A BBOB function from COCO (cocoex), minimize; the score reported is
    f(x) - f_opt (regret), so 0 is the optimum. The instance is fixed (1) so
    that every seed faces the same function. Constant cost."""

    goal, family, optimum = "minimize", "bbob", 0.0

    def __init__(self, fid, dim):
        self.fid, self.dim = fid, dim
        self.name = "bbob-f%d-d%d" % (fid, dim)
        self._problem = None
        self._coco()  # here, in the main thread: it changes directory

    def space(self):
        return [Param("x%d" % i, "float", -5.0, 5.0) for i in range(self.dim)]

    def _coco(self):
        if self._problem is None:
            import os
            import tempfile
            import cocoex
            suite = cocoex.Suite("bbob", "", "function_indices:%d dimensions:%d "
                                 "instance_indices:1" % (self.fid, self.dim))
            self._problem = next(iter(suite))
            # cocoex 2.8 exposes the optimum only by writing x_opt to a file
            # in the working directory; f_opt is f(x_opt)
            cwd = os.getcwd()
            with tempfile.TemporaryDirectory() as tmp:
                os.chdir(tmp)
                try:
                    self._problem._best_parameter("print")
                    with open("._bbob_problem_best_parameter.txt") as f:
                        xopt = [float(v) for v in f.read().split()]
                finally:
                    os.chdir(cwd)
            self._fopt = float(self._problem(xopt))
        return self._problem

    def evaluate(self, p, seed):
        prob = self._coco()
        x = [float(p["x%d" % i]) for i in range(self.dim)]
        return float(prob(x)) - self._fopt, 1.0, None


# ---------------------------------------------------------------- sklearn

class SklearnTune(Problem):
    """bayesmark-style model tuning: a scikit-learn model on a bundled
    dataset, 3-fold cross-validated; score = mean CV accuracy
    (classification) or R^2 (regression); cost = the CPU seconds of the
    cross-validation (fits and predictions) measured in the evaluating
    thread: real training time, but not inflated by other processes on a
    shared machine (every model runs single-threaded)."""

    family, goal, cost_aware = "sklearn", "maximize", True

    def __init__(self, model, dataset):
        self.model, self.dataset = model, dataset
        self.name = "sk-%s-%s" % (model, dataset)
        # more trees: a better fit, at a cost roughly in proportion
        self.cost_axis = "n_estimators" if model in ("rf", "gb") else None
        self._data = None

    def space(self):
        m = self.model
        if m == "svm":
            return [Param("C", "log", 1e-2, 1e3), Param("gamma", "log", 1e-4, 1e1),
                    Param("kernel", "cat", choices=["rbf", "sigmoid", "poly"])]
        if m == "rf":
            return [Param("n_estimators", "int", 5, 40), Param("max_depth", "int", 1, 16),
                    Param("max_features", "float", 0.05, 1.0),
                    Param("min_samples_split", "int", 2, 20),
                    Param("criterion", "cat", choices=["gini", "entropy"])]
        if m == "mlp":
            return [Param("hidden", "pow2", 4, 128), Param("alpha", "log", 1e-6, 1e0),
                    Param("learning_rate_init", "log", 1e-4, 1e-1),
                    Param("batch_size", "pow2", 16, 256),
                    Param("activation", "cat", choices=["relu", "tanh", "logistic"])]
        if m == "gb":
            return [Param("n_estimators", "int", 5, 40), Param("learning_rate", "log", 1e-3, 1.0),
                    Param("max_depth", "int", 1, 6), Param("subsample", "float", 0.3, 1.0),
                    Param("max_features", "float", 0.1, 1.0)]
        if m == "ridge":
            return [Param("alpha", "log", 1e-5, 1e4),
                    Param("solver", "cat", choices=["auto", "svd", "lsqr", "sag"]),
                    Param("fit_intercept", "cat", choices=["true", "false"])]
        if m == "lasso":
            return [Param("alpha", "log", 1e-5, 1e2), Param("tol", "log", 1e-6, 1e-1),
                    Param("selection", "cat", choices=["cyclic", "random"])]
        raise ValueError(m)

    def _load(self):
        if self._data is None:
            import sklearn.datasets as ds
            from sklearn.preprocessing import StandardScaler
            loader = {"iris": ds.load_iris, "wine": ds.load_wine,
                      "breast_cancer": ds.load_breast_cancer, "digits": ds.load_digits,
                      "diabetes": ds.load_diabetes}[self.dataset]
            X, y = loader(return_X_y=True)
            self._data = (StandardScaler().fit_transform(X), y)
        return self._data

    def _estimator(self, p, seed):
        m = self.model
        if m == "svm":
            from sklearn.svm import SVC
            return SVC(C=p["C"], gamma=p["gamma"], kernel=p["kernel"], max_iter=20000)
        if m == "rf":
            from sklearn.ensemble import RandomForestClassifier
            return RandomForestClassifier(
                n_estimators=int(p["n_estimators"]), max_depth=int(p["max_depth"]),
                max_features=p["max_features"], min_samples_split=int(p["min_samples_split"]),
                criterion=p["criterion"], random_state=seed, n_jobs=1)
        if m == "mlp":
            from sklearn.neural_network import MLPClassifier
            return MLPClassifier(hidden_layer_sizes=(int(p["hidden"]),), alpha=p["alpha"],
                                 learning_rate_init=p["learning_rate_init"],
                                 batch_size=int(p["batch_size"]), activation=p["activation"],
                                 max_iter=40, random_state=seed)
        if m == "gb":
            from sklearn.ensemble import GradientBoostingClassifier
            return GradientBoostingClassifier(
                n_estimators=int(p["n_estimators"]), learning_rate=p["learning_rate"],
                max_depth=int(p["max_depth"]), subsample=p["subsample"],
                max_features=p["max_features"], random_state=seed)
        if m == "ridge":
            from sklearn.linear_model import Ridge
            return Ridge(alpha=p["alpha"], solver=p["solver"],
                         fit_intercept=p["fit_intercept"] == "true", random_state=seed)
        if m == "lasso":
            from sklearn.linear_model import Lasso
            return Lasso(alpha=p["alpha"], tol=p["tol"], selection=p["selection"],
                         max_iter=2000, random_state=seed)
        raise ValueError(m)

    def evaluate(self, p, seed):
        import warnings
        from sklearn.model_selection import KFold, StratifiedKFold, cross_val_score
        X, y = self._load()
        regression = self.model in ("ridge", "lasso")
        # the folds are fixed (not the seed) so that every optimizer faces
        # the same function
        cv = (KFold(3, shuffle=True, random_state=0) if regression
              else StratifiedKFold(3, shuffle=True, random_state=0))
        t0 = time.thread_time()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                s = cross_val_score(self._estimator(p, 0), X, y, cv=cv,
                                    scoring="r2" if regression else "accuracy")
                score = float(s.mean())
            except (ValueError, ArithmeticError, FloatingPointError):
                score = -1.0 if regression else 0.0
        if not math.isfinite(score):
            score = -1.0
        score = max(score, -1.0)
        return score, max(time.thread_time() - t0, 1e-4), None
