"""scikit-learn's callback API (``sklearn.callback``, 1.9+), or a silent stand-in.

With scikit-learn >= 1.9 the trained estimators accept
``set_callbacks(ProgressBar(), ScoringMonitor(...))``; the training loop opens a
``fit`` task with one ``epoch`` subtask per epoch. With older versions the
stand-in gives a context that does nothing, and ``set_callbacks`` does not
exist (an ``AttributeError`` says so plainly).
"""

try:
    from sklearn.callback import CallbackSupportMixin
except ImportError:  # scikit-learn < 1.9

    class _NullContext:
        def subcontext(self, *args, **kwargs):
            return self

        def call_on_fit_task_begin(self, **kwargs):
            return self

        def call_on_fit_task_end(self, **kwargs):
            return False

    _NULL_CONTEXT = _NullContext()

    class CallbackSupportMixin:
        def _init_callback_context(self, *args, **kwargs):
            return _NULL_CONTEXT


__all__ = ["CallbackSupportMixin"]
