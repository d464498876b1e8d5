package dev.forge.compiler.passes;

import dev.forge.compiler.ir.Graph;
import java.util.LinkedHashMap;
import java.util.Map;

/** Sets the producer to {@code forge} and adds entries to the model's {@code metadata_props} (class labels, normalization, training summary). */
public final class AttachMetadata implements Pass {
    private final Map<String, String> metadata;

    /** Attaches {@code metadata}, in its iteration order. */
    public AttachMetadata(Map<String, String> metadata) {
        this.metadata = new LinkedHashMap<>(metadata);
    }

    @Override
    public Graph run(Graph g, PassContext context) {
        g.setProducerName("forge");
        g.metadata().putAll(metadata);
        return g;
    }
}
