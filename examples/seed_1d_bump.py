# The seeds' 1-D example ("Example of 1D Convolutional Layer"), unchanged except the imports.
# A three-element filter [0, 1, 0] detects the bump in [0, 0, 0, 1, 1, 0, 0, 0].
# example of calculation 1d convolutions
from numpy import asarray

from convolve.layers import Conv1D
from convolve.models import Sequential

# define input data
data = asarray([0, 0, 0, 1, 1, 0, 0, 0])
data = data.reshape(1, 8, 1)
# create model
model = Sequential()
model.add(Conv1D(1, 3, input_shape=(8, 1)))
# define a vertical line detector
weights = [asarray([[[0]],[[1]],[[0]]]), asarray([0.0])]
# store the weights in the model
model.set_weights(weights)
# confirm they were stored
print(model.get_weights())
# apply filter to input data
yhat = model.predict(data)
print(yhat)
