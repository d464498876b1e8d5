package dev.forge.compiler.passes;

import dev.forge.compiler.ir.Graph;
import dev.forge.runtime.Tensor;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Writes trained values into the model's initializers (parameters and running statistics). Entries that
 * name no initializer, such as optimizer state, are ignored.
 */
public final class BakeState implements Pass {
    private final Map<String, Tensor> state;

    /** Bakes {@code state}, trained values by initializer name. */
    public BakeState(Map<String, Tensor> state) {
        this.state = new LinkedHashMap<>(state);
    }

    @Override
    public Graph run(Graph g, PassContext context) {
        for (Map.Entry<String, Tensor> e : state.entrySet()) {
            if (g.initializers().containsKey(e.getKey())) {
                g.replaceInitializer(e.getKey(), e.getValue());
            }
        }
        return g;
    }
}
