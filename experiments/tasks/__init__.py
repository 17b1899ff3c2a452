"""The registry of experiment tasks, by name (see `experiments.tasks.base`)."""

from .cnn import CnnTask
from .custom import CustomTask
from .gan import GanTask
from .online import OnlineTask
from .rl import RlTask
from .rnn import RnnTask
from .style import StyleTask
from .text import TextTask
from .translate import TranslateTask

TASKS = {
    task.name: task
    for task in (
        CnnTask(),
        RnnTask(),
        GanTask(),
        TranslateTask(),
        OnlineTask(),
        RlTask(),
        StyleTask(),
        TextTask(),
        CustomTask(),
    )
}
