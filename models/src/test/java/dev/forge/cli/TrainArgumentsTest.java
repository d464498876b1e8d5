package dev.forge.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import dev.forge.cli.TrainArguments.OptimizerName;
import dev.forge.compiler.train.Optimizer;
import dev.forge.models.ModelZoo;
import dev.forge.models.SeedRecipe;
import java.util.List;
import org.junit.jupiter.api.Test;

class TrainArgumentsTest {
    @Test
    void the_flags_left_out_give_back_each_seed_recipes_optimizer() {
        // forge train NET with no optimizer flags must train with exactly the recipe's optimizer
        for (String net : ModelZoo.names()) {
            Optimizer o = SeedRecipe.of(net).optimizer();
            assertEquals(o, OptimizerName.of(o).create(o.lr(), OptimizerName.momentumOf(o), null), net);
        }
    }

    @Test
    void every_typed_optimizer_has_its_command_line_name() {
        List<Optimizer> all = List.of(
                Optimizer.sgd(0.1),
                Optimizer.momentum(0.1, 0.8),
                Optimizer.nesterov(0.1, 0.7),
                Optimizer.rmsprop(0.1),
                Optimizer.adagrad(0.1),
                Optimizer.adam(0.1),
                Optimizer.adamw(0.1));
        for (Optimizer o : all) {
            OptimizerName n = OptimizerName.of(o);
            assertEquals(o.name(), n.cliName());
            assertEquals(o, n.create(o.lr(), OptimizerName.momentumOf(o), null), o.describe());
        }
        assertNull(OptimizerName.momentumOf(Optimizer.sgd(0.1)), "no momentum: --optimizer momentum picks 0.9");
    }
}
