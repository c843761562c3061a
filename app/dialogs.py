"""Small helpers for the app's modal settings dialogs."""

from __future__ import annotations

from PySide6 import QtWidgets


def run_ok_cancel(dialog: QtWidgets.QDialog, form: QtWidgets.QFormLayout) -> bool:
    """Add an OK/Cancel row at the bottom of ``form`` and run ``dialog`` modally; True when the user
    pressed OK (the caller then reads the dialog's widgets)."""
    buttons = QtWidgets.QDialogButtonBox(QtWidgets.QDialogButtonBox.StandardButton.Ok | QtWidgets.QDialogButtonBox.StandardButton.Cancel)
    buttons.accepted.connect(dialog.accept)
    buttons.rejected.connect(dialog.reject)
    form.addRow(buttons)
    return dialog.exec() == QtWidgets.QDialog.DialogCode.Accepted
