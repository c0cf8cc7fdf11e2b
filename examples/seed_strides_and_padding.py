# The seeds' strides-and-padding walkthrough ("Convolutional Layers" and its continuation).
#
# 1. A 9x9 image and a 3x3 filter: stride 1 gives 7x7, stride 2 gives 4x4, stride 3 gives
#    3x3, and padding='same' keeps 9x9.
# 2. A 512x512 grey image through Conv2D(1, (3, 3), strides=(2, 1)) gives (1, 255, 510, 1);
#    with an all-ones kernel and padding='same' it gives (1, 512, 512, 1): a blur, each value
#    the sum of a 3x3 neighbourhood. (The seed uses a photograph; here a drawn test image.)
import numpy as np

from convolve.layers import Conv2D
from convolve.models import Sequential

image9 = np.arange(81, dtype="float32").reshape(1, 9, 9, 1)
for strides, padding in [((1, 1), "valid"), ((2, 2), "valid"), ((3, 3), "valid"), ((1, 1), "same")]:
    model = Sequential([Conv2D(1, (3, 3), strides=strides, padding=padding, input_shape=(9, 9, 1))])
    print(f"9x9 image, 3x3 filter, strides={strides}, padding={padding!r}: output {model.predict(image9, verbose=0).shape[1:3]}")

# a 512x512 test image: a bright disc and a dark square on a gradient
yy, xx = np.mgrid[0:512, 0:512]
img = (xx / 511.0) * 0.5
img[(yy - 180) ** 2 + (xx - 300) ** 2 < 90**2] = 1.0
img[320:440, 60:180] = 0.0
image_tensor = img.reshape(1, 512, 512, 1)
print("image_tensor.shape:", image_tensor.shape)

model = Sequential()
model.add(Conv2D(1, (3, 3), strides=(2, 1), input_shape=(512, 512, 1)))
model.compile("adam", "mse")
img_pred_tensor = model.predict(image_tensor, verbose=0)
print("strides=(2, 1):", img_pred_tensor.shape)

weights = model.get_weights()
print("kernel shape:", weights[0].shape)
weights[0] = np.ones(weights[0].shape)
model.set_weights(weights)
print("with an all-ones kernel, strides=(2, 1):", model.predict(image_tensor, verbose=0).shape)

model = Sequential()
model.add(Conv2D(1, (3, 3), padding="same", input_shape=(512, 512, 1)))
model.compile("adam", "mse")
model.set_weights([np.ones((3, 3, 1, 1)), np.zeros(1)])
blurred = model.predict(image_tensor, verbose=0)
print("all-ones kernel, padding='same':", blurred.shape)
print("centre of the disc (a 3x3 sum of ones):", blurred[0, 180, 300, 0])
print("corner (4 of the 9 cells are padding):", blurred[0, 0, 0, 0])
