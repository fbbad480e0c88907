# base class of this case: intentionally empty
