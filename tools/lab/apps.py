# Registry of the lab's applications, by category.
import apps_files

CATEGORIES = ["voip", "video", "chat", "browsing", "file_transfer"]

ALL = []
for _mod in (apps_files,):
    ALL += _mod.APPS

try:
    import apps_voip
    ALL += apps_voip.APPS
except ImportError:
    pass
try:
    import apps_video
    ALL += apps_video.APPS
except ImportError:
    pass
try:
    import apps_chat
    ALL += apps_chat.APPS
except ImportError:
    pass
try:
    import apps_browsing
    ALL += apps_browsing.APPS
except ImportError:
    pass


def for_category(category, only=None):
    """Applications of a category, optionally restricted to a comma list of names."""
    names = set(only.split(",")) if only else None
    return [a for a in ALL if a.category == category and (names is None or a.name in names)]


def by_name(name):
    for a in ALL:
        if a.name == name:
            return a
    return None
