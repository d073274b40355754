"""The Diagnosis tab: TensorBoard plugin entry point (`plugin`), routes (`service`), frontend.

Importing this package must stay cheap and safe: TensorBoard imports the entry
point at start-up, and an exception there stops TensorBoard.
"""
