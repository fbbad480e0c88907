WHO = "recipe's deferred class"
