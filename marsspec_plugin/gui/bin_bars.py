"""A small bar chart of one band's bin probabilities (paper 000 Fig. 16), drawn with QPainter.

No plotting dependency: a QWidget that paints N_B bars, the argmax bar highlighted, a line at
the weighted-sum value, and a few tick labels on the bin axis.
"""

from __future__ import annotations

import numpy as np
from qgis.PyQt.QtCore import QRectF, QSize, Qt
from qgis.PyQt.QtGui import QColor, QFont, QPainter, QPen
from qgis.PyQt.QtWidgets import QSizePolicy, QWidget

BAR = QColor(70, 110, 170)
PEAK = QColor(215, 110, 40)
VALUE = QColor(200, 30, 30)
AXIS = QColor(90, 90, 90)


class BinBarsWidget(QWidget):
    """Bars for ``probabilities`` over ``centres``; call :meth:`set_distribution`."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("marsspecBinBars")
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setMinimumHeight(110)
        self.centres = np.zeros(0)
        self.probabilities = np.zeros(0)
        self.value: float | None = None
        self.title = ""
        self.bar_rects: list[QRectF] = []  # the bars last painted (tests look at them)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt API name
        return QSize(320, 120)

    def set_distribution(
        self, centres: np.ndarray, probabilities: np.ndarray, value: float | None, title: str
    ) -> None:
        self.centres = np.asarray(centres, dtype=float)
        self.probabilities = np.asarray(probabilities, dtype=float)
        self.value = value
        self.title = title
        self.update()

    def bar_count(self) -> int:
        return int(self.probabilities.size)

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt API name
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.fillRect(self.rect(), self.palette().base())
        font = QFont(self.font())
        font.setPointSizeF(max(font.pointSizeF() - 1, 6))
        painter.setFont(font)
        metrics = painter.fontMetrics()
        left, right, top = 34.0, 8.0, metrics.height() + 4.0
        bottom = metrics.height() + 6.0
        plot = QRectF(left, top, self.width() - left - right, self.height() - top - bottom)
        painter.setPen(AXIS)
        painter.drawText(
            QRectF(0, 0, self.width(), top),
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            self.title,
        )
        self.bar_rects = []
        n = self.bar_count()
        if n == 0 or plot.width() <= 0 or plot.height() <= 0:
            painter.end()
            return
        top_p = max(float(self.probabilities.max()), 1e-6)
        scale = 1.0 if top_p > 0.5 else (0.5 if top_p > 0.25 else 0.25)
        # y axis: 0 and the scale maximum
        painter.drawLine(plot.bottomLeft(), plot.topLeft())
        painter.drawLine(plot.bottomLeft(), plot.bottomRight())
        painter.drawText(
            QRectF(0, plot.top() - 6, left - 4, 12), Qt.AlignmentFlag.AlignRight, f"{scale:g}"
        )
        painter.drawText(
            QRectF(0, plot.bottom() - 6, left - 4, 12), Qt.AlignmentFlag.AlignRight, "0"
        )
        width = plot.width() / n
        peak = int(np.argmax(self.probabilities))
        for i, p in enumerate(self.probabilities):
            h = plot.height() * min(float(p) / scale, 1.0)
            rect = QRectF(plot.left() + i * width + 1, plot.bottom() - h, max(width - 2, 1), h)
            painter.fillRect(rect, PEAK if i == peak else BAR)
            self.bar_rects.append(rect)
        # a few tick labels along the bin axis
        lo, hi = float(self.centres[0]), float(self.centres[-1])
        for i in sorted({0, n // 2, n - 1}):
            x = plot.left() + (i + 0.5) * width
            painter.drawText(
                QRectF(x - 30, plot.bottom() + 2, 60, bottom),
                Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop,
                f"{self.centres[i]:.2g}",
            )
        if self.value is not None and hi > lo:
            # bins may be unevenly spaced (SID): place the value by interpolating bin indices
            position = float(np.interp(self.value, self.centres, np.arange(n)))
            x = plot.left() + (position + 0.5) * width
            painter.setPen(QPen(VALUE, 2, Qt.PenStyle.DashLine))
            painter.drawLine(int(x), int(plot.top()), int(x), int(plot.bottom()))
        painter.end()
