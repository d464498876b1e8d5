package dev.forge.runtime;

import ai.onnxruntime.OrtSession.SessionOptions;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Counts the native ONNX Runtime objects this package creates and closes, so that a test (or a
 * service's health check) can prove none is leaked: see {@link Model#openNativeObjects()}.
 */
final class NativeObjects {
    static final NativeObjects SESSIONS = new NativeObjects();
    static final NativeObjects SESSION_OPTIONS = new NativeObjects();
    static final NativeObjects TENSORS = new NativeObjects();
    static final NativeObjects RESULTS = new NativeObjects();

    private final AtomicLong open = new AtomicLong();

    private NativeObjects() {}

    void opened() {
        open.incrementAndGet();
    }

    void closed() {
        open.decrementAndGet();
    }

    long count() {
        return open.get();
    }

    static long open() {
        return SESSIONS.count() + SESSION_OPTIONS.count() + TENSORS.count() + RESULTS.count();
    }

    /** For messages: the count of each kind. */
    static String describe() {
        return "sessions " + SESSIONS.count() + ", session options " + SESSION_OPTIONS.count() + ", tensors "
                + TENSORS.count() + ", run results " + RESULTS.count();
    }

    /** Session options that count themselves open until closed (closing twice counts once). */
    static SessionOptions sessionOptions() {
        SessionOptions so = new SessionOptions() {
            private final AtomicBoolean closed = new AtomicBoolean();

            @Override
            public void close() {
                super.close();
                if (closed.compareAndSet(false, true)) {
                    SESSION_OPTIONS.closed();
                }
            }
        };
        SESSION_OPTIONS.opened();
        return so;
    }
}
