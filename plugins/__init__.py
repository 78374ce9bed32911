"""Built-in generator plugins, registered through the aigc.plugins entry-point group like any other."""
