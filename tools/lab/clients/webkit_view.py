# A WebKitGTK browser window (run under Xvfb) that navigates to each URL read from stdin.
import argparse
import os
import sys

import gi

gi.require_version("Gtk", "3.0")
gi.require_version("WebKit2", "4.1")
from gi.repository import GLib, Gtk, WebKit2  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--profile", required=True)
    a = ap.parse_args()
    os.makedirs(a.profile, exist_ok=True)
    dm = WebKit2.WebsiteDataManager(base_data_directory=os.path.join(a.profile, "data"),
                                    base_cache_directory=os.path.join(a.profile, "cache"))
    dm.set_tls_errors_policy(WebKit2.TLSErrorsPolicy.IGNORE)    # the lab CA is not installed
    ctx = WebKit2.WebContext.new_with_website_data_manager(dm)
    view = WebKit2.WebView.new_with_context(ctx)
    win = Gtk.Window()
    win.set_default_size(1280, 900)
    win.add(view)
    win.show_all()

    def on_input(source, cond):
        line = sys.stdin.readline()
        if not line:                    # the driver went away
            Gtk.main_quit()
            return False
        view.load_uri(line.strip())
        return True

    GLib.io_add_watch(sys.stdin, GLib.PRIORITY_DEFAULT, GLib.IO_IN | GLib.IO_HUP, on_input)
    Gtk.main()


if __name__ == "__main__":
    main()
