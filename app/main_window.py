"""Main window: docks, menus, shortcuts, layout persistence. Panels only talk to the Session."""

from __future__ import annotations

from pathlib import Path

from PySide6 import QtCore, QtGui, QtWidgets

from app.panels.hand_pose import HandPosePanel
from app.panels.scene3d import Scene3DPanel
from app.session import Session
from umetrack.errors import UmeTrackError

ORGANIZATION, APPLICATION = "UmeTrack", "UmeTrack Studio"


class MainWindow(QtWidgets.QMainWindow):
    def __init__(self, session: Session, settings: QtCore.QSettings | None = None):
        super().__init__()
        self.session = session
        self.settings = settings or QtCore.QSettings(ORGANIZATION, APPLICATION)
        self.setWindowTitle(APPLICATION)
        self.resize(1280, 800)

        self.scene3d = Scene3DPanel(session)
        self.setCentralWidget(self.scene3d)
        self.hand_pose = HandPosePanel(session)
        self.hand_pose_dock = self._dock("Hand pose", "hand_pose_dock", self.hand_pose, QtCore.Qt.DockWidgetArea.RightDockWidgetArea)

        self._build_menus()
        self.statusBar().showMessage(f"Hand model: {session.hand_model_path}")
        self._restore_layout()

    def _dock(self, title: str, name: str, widget: QtWidgets.QWidget, area) -> QtWidgets.QDockWidget:
        dock = QtWidgets.QDockWidget(title, self)
        dock.setObjectName(name)
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self.open_model_action = file_menu.addAction("Open &hand model…", self.open_hand_model_dialog)
        self.open_model_action.setShortcut(QtGui.QKeySequence.StandardKey.Open)
        file_menu.addSeparator()
        quit_action = file_menu.addAction("&Quit", self.close)
        quit_action.setShortcut(QtGui.QKeySequence.StandardKey.Quit)

        view_menu = self.menuBar().addMenu("&View")
        self.layer_actions: dict[str, QtGui.QAction] = {}
        for key, name in zip("MSG", self.session.LAYERS):
            action = view_menu.addAction(f"Show {name}")
            action.setCheckable(True)
            action.setChecked(self.session.visible_layers[name])
            action.setShortcut(QtGui.QKeySequence(key))
            action.toggled.connect(lambda visible, n=name: self.session.set_layer_visible(n, visible))
            self.layer_actions[name] = action
        self.session.layer_toggled.connect(self._on_layer_toggled)
        view_menu.addSeparator()
        reset = view_menu.addAction("&Reset 3D view", self.scene3d.reset_view)
        reset.setShortcut(QtGui.QKeySequence("R"))
        view_menu.addAction(self.hand_pose_dock.toggleViewAction())

    def _on_layer_toggled(self, name: str, visible: bool) -> None:
        action = self.layer_actions[name]
        with QtCore.QSignalBlocker(action):
            action.setChecked(visible)

    def open_hand_model_dialog(self) -> None:
        path, _ = QtWidgets.QFileDialog.getOpenFileName(self, "Open hand model", "", "Hand model JSON (*.json)")
        if path:
            self.open_hand_model(path)

    def open_hand_model(self, path: str | Path) -> bool:
        """Load a hand model; on a bad file show why and keep the current one."""
        try:
            self.session.load_hand_model(path)
        except UmeTrackError as exc:
            QtWidgets.QMessageBox.warning(self, "Cannot open hand model", str(exc))
            self.statusBar().showMessage(f"Not opened: {Path(path).name}")
            return False
        self.statusBar().showMessage(f"Hand model: {path}")
        return True

    def _restore_layout(self) -> None:
        geometry = self.settings.value("main_window/geometry")
        state = self.settings.value("main_window/state")
        if geometry is not None:
            self.restoreGeometry(geometry)
        if state is not None:
            self.restoreState(state)

    def closeEvent(self, event: QtGui.QCloseEvent) -> None:
        self.settings.setValue("main_window/geometry", self.saveGeometry())
        self.settings.setValue("main_window/state", self.saveState())
        super().closeEvent(event)
