"""A plugin whose import fails: it must be listed as broken while everything else works."""

raise ImportError("this plugin is broken on purpose")
