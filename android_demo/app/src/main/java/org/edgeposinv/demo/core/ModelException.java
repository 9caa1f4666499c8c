package org.edgeposinv.demo.core;

/** A model file the app cannot use; the message says what is wrong and what to do. */
public class ModelException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public ModelException(String message) {
        super(message);
    }

    public ModelException(String message, Throwable cause) {
        super(message, cause);
    }
}
