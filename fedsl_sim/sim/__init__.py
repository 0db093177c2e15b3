"""The SimPy world: devices' processors, links, the server's workers, the recorder."""
