package org.edgeposinv.demo;

import android.graphics.Bitmap;
import android.graphics.BitmapFactory;
import android.media.ExifInterface;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import org.edgeposinv.demo.core.Evaluation;
import org.edgeposinv.demo.core.RgbImage;

/** Decoding files and converting bitmaps, the Android way; orientation is applied by the core. */
final class AndroidImages implements Evaluation.Decoder {
    @Override
    public Evaluation.Decoded decode(File file) throws IOException {
        BitmapFactory.Options o = new BitmapFactory.Options();
        o.inPreferredConfig = Bitmap.Config.ARGB_8888;  // grey → 3 equal channels, alpha dropped below
        o.inPremultiplied = false;  // keep the stored colour of translucent pixels, as OpenCV does
        Bitmap bmp = BitmapFactory.decodeFile(file.getPath(), o);
        if (bmp == null) {
            throw new IOException(file + ": not a decodable image");
        }
        try {
            int orientation = 1;
            String name = file.getName().toLowerCase(java.util.Locale.ROOT);
            if (name.endsWith(".jpg") || name.endsWith(".jpeg")) {  // the host honours EXIF in JPEG files
                orientation = new ExifInterface(file.getPath())
                        .getAttributeInt(ExifInterface.TAG_ORIENTATION, ExifInterface.ORIENTATION_NORMAL);
            }
            return new Evaluation.Decoded(toRgb(bmp), orientation);
        } finally {
            bmp.recycle();
        }
    }

    static RgbImage toRgb(Bitmap bmp) {
        int w = bmp.getWidth();
        int h = bmp.getHeight();
        int[] argb = new int[w * h];
        bmp.getPixels(argb, 0, w, 0, 0, w, h);
        return RgbImage.fromArgb(w, h, argb);
    }

    static Bitmap toBitmap(RgbImage img) {
        return Bitmap.createBitmap(img.toArgb(), img.width, img.height, Bitmap.Config.ARGB_8888);
    }

    static byte[] jpeg(RgbImage img, int quality) {
        Bitmap bmp = toBitmap(img);
        try {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            bmp.compress(Bitmap.CompressFormat.JPEG, quality, out);
            return out.toByteArray();
        } finally {
            bmp.recycle();
        }
    }
}
