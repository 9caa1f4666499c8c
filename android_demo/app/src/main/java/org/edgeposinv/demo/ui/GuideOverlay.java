package org.edgeposinv.demo.ui;

import android.content.Context;
import android.graphics.Canvas;
import android.graphics.Color;
import android.graphics.Paint;
import android.view.View;
import org.edgeposinv.demo.core.CaptureGuide;

/** Draws the capture grid over the preview, the target cell highlighted, and the angle prompt. */
public final class GuideOverlay extends View {
    private final Paint grid = new Paint(Paint.ANTI_ALIAS_FLAG);
    private final Paint target = new Paint(Paint.ANTI_ALIAS_FLAG);
    private final Paint text = new Paint(Paint.ANTI_ALIAS_FLAG);
    private CaptureGuide.Step step;

    public GuideOverlay(Context context) {
        super(context);
        grid.setColor(Color.WHITE);
        grid.setStrokeWidth(2f);
        target.setColor(Color.argb(255, 255, 200, 0));
        target.setStyle(Paint.Style.STROKE);
        target.setStrokeWidth(8f);
        text.setColor(Color.WHITE);
        text.setTextSize(48f);
        text.setShadowLayer(6f, 0f, 0f, Color.BLACK);
    }

    public void setStep(CaptureGuide.Step step) {
        this.step = step;
        postInvalidate();
    }

    @Override
    protected void onDraw(Canvas canvas) {
        super.onDraw(canvas);
        if (step == null) {
            return;
        }
        int w = getWidth();
        int h = getHeight();
        for (int r = 1; r < step.rows; r++) {
            canvas.drawLine(0, r * h / (float) step.rows, w, r * h / (float) step.rows, grid);
        }
        for (int c = 1; c < step.cols; c++) {
            canvas.drawLine(c * w / (float) step.cols, 0, c * w / (float) step.cols, h, grid);
        }
        float x0 = step.col * w / (float) step.cols;
        float y0 = step.row * h / (float) step.rows;
        canvas.drawRect(x0, y0, x0 + w / (float) step.cols, y0 + h / (float) step.rows, target);
        canvas.drawText("Put it " + step.cellName() + ", " + step.angle, 24f, h - 48f, text);
    }
}
