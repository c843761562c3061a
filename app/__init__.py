"""UmeTrack Studio: the desktop app (Qt, pyqtgraph, vispy) over the Qt-free ``umetrack`` library."""
