import wandb
run = wandb.init(config={"lr": 0.1}, settings=wandb.Settings(x_disable_stats=True, console="off", save_code=False, disable_git=True))
for i in range(9):
    wandb.log({"loss": 1.0 / (i + 1), "pad": "p" * 2000})
run.summary["loss"] = 0.125
wandb.finish()
