package dev.forge.compiler.autodiff;

import dev.forge.compiler.ops.OpDef;
import dev.forge.compiler.ops.Ops;
import java.util.Set;

/**
 * Look-ups of gradient rules by operator type. The rules themselves live with each operator's
 * definition in {@link Ops} (one file per operator family); this class only reads them.
 */
public final class GradientRules {
    private GradientRules() {}

    /** The rule of an op, or null when the op is unknown or has none. */
    public static GradientRule rule(String opType) {
        OpDef def = Ops.definition(opType);
        return def == null ? null : def.gradient();
    }

    /** Every op with a gradient rule, sorted. */
    public static Set<String> supported() {
        return Ops.differentiable();
    }
}
