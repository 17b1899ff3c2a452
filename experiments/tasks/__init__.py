"""The registry of experiment tasks, by name (see `experiments.tasks.base`)."""

from experiments.tasks.cnn import CnnTask
from experiments.tasks.gan import GanTask
from experiments.tasks.rnn import RnnTask
from experiments.tasks.translate import TranslateTask

TASKS = {task.name: task for task in (CnnTask(), RnnTask(), GanTask(), TranslateTask())}


def get_task(name):
    if name not in TASKS:
        raise ValueError(f"Unknown task: task={name!r}. Choose one of: {', '.join(TASKS)}")
    return TASKS[name]
