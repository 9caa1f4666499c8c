package org.edgeposinv.demo;

import android.content.Context;
import android.content.res.AssetFileDescriptor;
import android.net.Uri;
import java.io.File;
import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;

/** Where models come from: the APK's assets (stored uncompressed), a file path, or a picked document. */
final class ModelStore {
    /** The asset {@code edgeposinv export --android-assets} writes. */
    static final String BUNDLED_ASSET = "model.tflite";

    private ModelStore() {}

    static boolean hasBundledModel(Context context) {
        try {
            String[] names = context.getAssets().list("");
            if (names != null) {
                for (String n : names) {
                    if (BUNDLED_ASSET.equals(n)) {
                        return true;
                    }
                }
            }
        } catch (IOException e) {
            return false;
        }
        return false;
    }

    /** Memory-maps an asset; works because the build keeps .tflite files uncompressed. */
    static MappedByteBuffer mapAsset(Context context, String name) throws IOException {
        try (AssetFileDescriptor fd = context.getAssets().openFd(name);
             FileInputStream in = new FileInputStream(fd.getFileDescriptor())) {
            return in.getChannel().map(FileChannel.MapMode.READ_ONLY, fd.getStartOffset(), fd.getDeclaredLength());
        }
    }

    static MappedByteBuffer mapFile(File file) throws IOException {
        if (!file.isFile()) {
            throw new IOException("model file " + file + " does not exist");
        }
        try (FileInputStream in = new FileInputStream(file)) {
            return in.getChannel().map(FileChannel.MapMode.READ_ONLY, 0, file.length());
        }
    }

    /** Copies a picked document into app storage (documents cannot be mapped) and maps the copy. */
    static MappedByteBuffer importDocument(Context context, Uri uri) throws IOException {
        File target = new File(context.getFilesDir(), "picked.tflite");
        File tmp = new File(context.getFilesDir(), ".picked.tflite.tmp");
        try (InputStream in = context.getContentResolver().openInputStream(uri);
             OutputStream out = new FileOutputStream(tmp)) {
            if (in == null) {
                throw new IOException("cannot open " + uri);
            }
            byte[] buf = new byte[1 << 16];
            for (int n = in.read(buf); n >= 0; n = in.read(buf)) {
                out.write(buf, 0, n);
            }
        }
        if (!tmp.renameTo(target)) {
            throw new IOException("cannot store the picked model in " + target);
        }
        return mapFile(target);
    }
}
