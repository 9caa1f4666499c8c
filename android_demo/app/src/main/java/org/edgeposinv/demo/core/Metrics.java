package org.edgeposinv.demo.core;

import java.util.Arrays;
import java.util.List;
import org.json.JSONArray;
import org.json.JSONException;
import org.json.JSONObject;

/** The report's per-set figures, computed as {@code edgeposinv.metrics} computes them. */
public final class Metrics {
    /** Two-sided 95% normal quantile (scipy's {@code ndtri(0.975)}). */
    static final double Z95 = 1.959963984540054;

    private Metrics() {}

    /** Wilson score interval for {@code k} successes in {@code n} trials (scipy's binomtest method="wilson"). */
    public static double[] wilson(int k, int n) {
        if (n == 0) {
            return new double[] {0.0, 1.0};
        }
        double p = (double) k / n;
        double z2 = Z95 * Z95;
        double denom = 2 * (n + z2);
        double center = (2 * n * p + z2) / denom;
        double d = Z95 * Math.sqrt(z2 + 4 * n * p * (1 - p)) / denom;
        double lo = k == 0 ? 0.0 : center - d;
        double hi = k == n ? 1.0 : center + d;
        return new double[] {lo, hi};
    }

    /** Newcombe's hybrid score interval for {@code p1 - p2}. */
    public static double[] difference(int k1, int n1, int k2, int n2) {
        double p1 = (double) k1 / n1;
        double p2 = (double) k2 / n2;
        double[] a = wilson(k1, n1);
        double[] b = wilson(k2, n2);
        double d = p1 - p2;
        double lower = d - Math.sqrt(sq(p1 - a[0]) + sq(b[1] - p2));
        double upper = d + Math.sqrt(sq(a[1] - p1) + sq(p2 - b[0]));
        return new double[] {Math.max(-1.0, lower), Math.min(1.0, upper)};
    }

    private static double sq(double v) {
        return v * v;
    }

    /** numpy's default (linear) percentile, {@code q} in [0, 100]. */
    public static double percentile(double[] values, double q) {
        double[] v = values.clone();
        Arrays.sort(v);
        double pos = (v.length - 1) * q / 100.0;
        int lo = (int) Math.floor(pos);
        int hi = Math.min(lo + 1, v.length - 1);
        return v[lo] + (v[hi] - v[lo]) * (pos - lo);
    }

    /** argmax, first index on ties (numpy's argmax). */
    public static int argmax(float[] scores) {
        int best = 0;
        for (int i = 1; i < scores.length; i++) {
            if (scores[i] > scores[best]) {
                best = i;
            }
        }
        return best;
    }

    /**
     * True label among the top {@code k} — scikit-learn's {@code top_k_accuracy_score} rule:
     * its ascending stable sort, reversed, puts the higher index first among equal scores.
     */
    static boolean inTopK(float[] scores, int label, int k) {
        int better = 0;
        for (int i = 0; i < scores.length; i++) {
            if (scores[i] > scores[label] || (scores[i] == scores[label] && i > label)) {
                better++;
            }
        }
        return better < k;
    }

    /** {@code n, top1, top1_ci95, top_k, per_class, confusion} of one set. */
    public static JSONObject setFigures(int[] trueIds, List<float[]> scores, List<String> labels, int topK) throws JSONException {
        int c = labels.size();
        int n = trueIds.length;
        int[][] confusion = new int[c][c];
        int correct = 0;
        int inK = 0;
        int k = Math.min(topK, c);
        for (int i = 0; i < n; i++) {
            int pred = argmax(scores.get(i));
            confusion[trueIds[i]][pred]++;
            if (pred == trueIds[i]) {
                correct++;
            }
            if (inTopK(scores.get(i), trueIds[i], k)) {
                inK++;
            }
        }
        JSONObject perClass = new JSONObject();
        for (int j = 0; j < c; j++) {
            int tp = confusion[j][j];
            int predicted = 0;
            int support = 0;
            for (int i = 0; i < c; i++) {
                predicted += confusion[i][j];
                support += confusion[j][i];
            }
            perClass.put(labels.get(j), new JSONObject()
                    .put("precision", predicted == 0 ? 0.0 : (double) tp / predicted)
                    .put("recall", support == 0 ? 0.0 : (double) tp / support)
                    .put("n", support));
        }
        JSONArray conf = new JSONArray();
        for (int[] row : confusion) {
            JSONArray r = new JSONArray();
            for (int v : row) {
                r.put(v);
            }
            conf.put(r);
        }
        double[] ci = wilson(correct, n);
        return new JSONObject()
                .put("n", n)
                .put("top1", n == 0 ? 0.0 : (double) correct / n)
                .put("top1_ci95", new JSONArray().put(ci[0]).put(ci[1]))
                .put("correct", correct)
                .put("top_k", new JSONObject().put("k", k).put("accuracy", n == 0 ? 0.0 : (double) inK / n))
                .put("per_class", perClass)
                .put("confusion", conf);
    }
}
