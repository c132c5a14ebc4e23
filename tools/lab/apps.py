# Registry of the lab's applications, by category.
import apps_browsing
import apps_chat
import apps_files
import apps_video
import apps_voip

CATEGORIES = ["voip", "video", "chat", "browsing", "file_transfer"]

ALL = (apps_voip.APPS + apps_video.APPS + apps_chat.APPS + apps_browsing.APPS
       + apps_files.APPS)


def for_category(category, only=None):
    """Applications of a category, optionally restricted to a comma list of names."""
    names = set(only.split(",")) if only else None
    return [a for a in ALL if a.category == category and (names is None or a.name in names)]


def by_name(name):
    """The application called name, or None."""
    for a in ALL:
        if a.name == name:
            return a
    return None
