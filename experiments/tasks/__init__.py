"""The registry of experiment tasks, by name (see `experiments.tasks.base`)."""

from experiments.tasks.cnn import CnnTask
from experiments.tasks.custom import CustomTask
from experiments.tasks.gan import GanTask
from experiments.tasks.rnn import RnnTask
from experiments.tasks.translate import TranslateTask

TASKS = {
    task.name: task for task in (CnnTask(), RnnTask(), GanTask(), TranslateTask(), CustomTask())
}
